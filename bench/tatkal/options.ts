// bench/tatkal.ts's command line and the constants derived from it.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_ARGS } from '../stack.ts';

export const root = join(import.meta.dirname, '../..');
export const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '2000' },
    coaches: { type: 'string', default: '14' },
    'berths-per-coach': { type: 'string', default: '72' },
    /** Side lower berths per coach earmarked for RAC (two RAC passengers each): GENERAL only, so --general's runs. */
    'rac-berths': { type: 'string', default: '6' },
    /** No new user starts reserving after this. */
    'duration-s': { type: 'string', default: '300' },
    'confirm-timeout-s': { type: 'string', default: '300' },
    /** booking's DB_POOL_SIZE, and pgbench's client count. */
    pool: { type: 'string', default: '40' },
    'no-pay': { type: 'boolean', default: false },
    /**
     * Payers stop at the checkout page: createPayment only, no webhooks and no confirmations
     * competing with it (what createPayment costs and how long it waits on its own).
     */
    'no-checkout': { type: 'boolean', default: false },
    'no-pgbench': { type: 'boolean', default: false },
    /** Subgraphs verify every bearer token themselves instead of the gateway's signed identity. */
    'no-identity-assertions': { type: 'boolean', default: false },
    /** pgbench's duration; default: as long as the rush took (at least 5 s). */
    'pgbench-s': { type: 'string' },
    /**
     * booking's WAITLIST_LIMIT; default: no cap, so the workload matches pgbench's script (every
     * allow-waitlist attempt waitlists).
     */
    'waitlist-limit': { type: 'string', default: '1000000' },
    /** booking's QUEUE_WAIT_MS: how long a request waits for its outcome before it is answered QUEUED. */
    'queue-wait-ms': { type: 'string' },
    /**
     * Today's rush instead of an opening: GENERAL berths on a run whose window is long open, every
     * user at once.
     */
    general: { type: 'boolean', default: false },
    /**
     * The opening: the early users join its waiting room one by one over these seconds before it.
     * Booking starts with its TATKAL_OPENS_* (HH:MM:SS IST) this plus SETUP_S ahead (the stack's
     * start, the warm-up and the idle reading); the joining starts lead-s before the opening.
     */
    'lead-s': { type: 'string', default: '20' },
    /** The share of users who join the waiting room before the opening; the rest come at it. */
    early: { type: 'string', default: '0.5' },
    /** Runs opening together; users spread over them by popularity 1/k^zipf-s (run k, from 1). */
    runs: { type: 'string', default: '1' },
    'zipf-s': { type: 'string', default: '1' },
    target: { type: 'string' },
    provider: { type: 'string', default: 'http://127.0.0.1:4006' },
    'auth-keys': { type: 'string', default: join(root, '.keys/auth-signing-keys.json') },
    ...SERVICE_ARGS,
    db: { type: 'string' },
  },
});
export const USERS = Number(args.users);
export const CONCURRENCY = Number(args.concurrency);
export const COACHES = Number(args.coaches);
export const BERTHS_PER_COACH = Number(args['berths-per-coach']);
export const RAC_BERTHS = Number(args['rac-berths']);
export const POOL = Number(args.pool);
export const PAY = !args['no-pay'];
export const CHECKOUT = !args['no-checkout'];
export const TARGET = args.target ?? null;
export const DB = args.db ?? (TARGET ? 'tatkal' : 'tatkal_bench');
/** A Tatkal window opens during the bench (the default); --general: today's long-open GENERAL window. */
export const OPENING = !args.general;
export const RUNS = Number(args.runs);
export const LEAD_S = Number(args['lead-s']);
/** Allowed for the stack's start, the warm-up and the idle reading before the joining starts. */
export const SETUP_S = 40;
export const EARLY = OPENING ? Number(args.early) : 0;
export const ZIPF_S = Number(args['zipf-s']);
export const SYSTEM_PROCESSES = ['postgres', 'redis-server', 'beam.smp'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
