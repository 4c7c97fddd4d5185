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
    /** No new user starts reserving after this. */
    'duration-s': { type: 'string', default: '300' },
    'confirm-timeout-s': { type: 'string', default: '300' },
    /** booking's DB_POOL_SIZE, and pgbench's client count. */
    pool: { type: 'string', default: '40' },
    'no-pay': { type: 'boolean', default: false },
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
export const POOL = Number(args.pool);
export const PAY = !args['no-pay'];
export const TARGET = args.target ?? null;
export const DB = args.db ?? (TARGET ? 'tatkal' : 'tatkal_bench');
export const SYSTEM_PROCESSES = ['postgres', 'redis-server', 'beam.smp'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
