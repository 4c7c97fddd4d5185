// bench/gateway.ts's command line and the constants derived from it.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_ARGS } from '../stack.ts';

export const root = join(import.meta.dirname, '../..');
export const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
    /** Coaches of 72 berths per reserveSeats phase; default: enough for every request's group. */
    coaches: { type: 'string' },
    pool: { type: 'string', default: '40' },
    'timeout-s': { type: 'string', default: '600' },
    ...SERVICE_ARGS,
  },
});
export const REQUESTS = Number(args.requests);
export const CONCURRENCY = Number(args.concurrency);
export const WARMUP = Number(args.warmup);
export const ROUNDS = Number(args.rounds);
export const DB = 'tatkal_bench_gateway';
export const BERTHS_PER_COACH = 72;
// Groups average 2 passengers (bench/load.ts reserveInput); 10% spare so no phase sells out.
export const coachesFor = (requests: number) =>
  Number(args.coaches ?? Math.ceil((requests * 2 * 1.1) / BERTHS_PER_COACH));
export const HIVE = join(root, 'bench/node_modules/.bin/hive-gateway');
export const SYSTEM_PROCESSES = ['postgres', 'redis-server'];

/** Busy corridors of the seeded network; the ones without a train tomorrow are dropped at warm-up. */
export const ROUTES = [
  ['MMCT', 'NDLS'],
  ['NDLS', 'MMCT'],
  ['NDLS', 'HWH'],
  ['HWH', 'NDLS'],
  ['MAS', 'SBC'],
  ['SBC', 'MAS'],
] as const;
