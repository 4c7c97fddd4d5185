// The rush: every user reserves on one run at once (a bounded number in flight), a QUEUED answer is
// followed to its outcome as a front end polls; the queue depth is sampled meanwhile. Measured
// around it: CPU and Redis counters, database transactions, FIFO inversions, allocation batches.
import type pg from 'pg';
import type { Reservation, ReserveSeatsInput } from '@tatkal/client';
import type { Redis } from '@tatkal/common';
import type { TestRun } from '../../packages/testkit/src/trainRun.ts';
import { databaseTransactions, STATS_SETTLE_MS } from '../database.ts';
import { type benchClient, outcomeOf, Recorder, runPool } from '../load.ts';
import { otherActiveRedisClients } from '../redis.ts';
import type { Stack } from '../stack.ts';
import { allocationBatches, fifoInversions, meter, ourPids } from './measure.ts';
import { args, CONCURRENCY, DB, sleep, USERS } from './options.ts';

export interface Held {
  user: number;
  id: string;
  passengers: number;
  /** Epoch ms the traveller pressed "Pay" at the provider's checkout. */
  paidAt?: number;
  confirmedAt?: number;
}

export type RushResult = Awaited<ReturnType<typeof runRush>>;

export async function runRush(ctx: {
  stack: Stack | null;
  redis: Redis;
  watcher: pg.Client;
  run: TestRun;
  users: ReturnType<typeof benchClient>[];
  inputs: ReserveSeatsInput[];
  /** Transactions of the database when the idle reading ended (the rush's starting count). */
  idleTo: number;
}) {
  const { stack, redis, watcher, run, users, inputs, idleTo } = ctx;
  const held: Held[] = [];
  const reserveBefore = await meter(stack, redis);
  const rec = new Recorder();
  const xactReserveBefore = idleTo;
  // Queue depth (QUEUED reservations of the run) every 250 ms while the rush and its polls last.
  const depth: [number, number][] = [];
  let sampling = true;
  const depthSampler = (async () => {
    while (sampling) {
      const { rows } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM booking.reservations WHERE run_id = $1 AND status = 'QUEUED'`,
        [run.runId],
      );
      depth.push([rec.now() / 1000, rows[0]!.n]);
      await sleep(250);
    }
  })();
  // A user's slot frees at the first answer (outcome or QUEUED); a QUEUED one is followed
  // meanwhile, as a front end would poll, until its final outcome ('final' samples).
  const follows: Promise<void>[] = [];
  const seated = (i: number, r: Reservation) => {
    if (r.status === 'HELD') held.push({ user: i, id: r.id, passengers: r.passengers.length });
  };
  const attempts = await runPool(USERS, CONCURRENCY, Date.now() + Number(args['duration-s']) * 1000, async (i) => {
    const start = rec.now();
    const first = await rec.time('reserve', async () => {
      let r: Reservation;
      try {
        r = await users[i]!.reserve(inputs[i]!, { wait: false, retry: false });
      } catch (err) {
        return outcomeOf(err);
      }
      if (r.status === 'QUEUED') {
        // Polled as a front end does (the client's waitForOutcome: half the estimated wait, 250 ms to 2 s).
        follows.push(
          users[i]!.waitForOutcome(r, { timeoutMs: Number(args['confirm-timeout-s']) * 1000, retry: false }).then(
            (last) => {
              rec.samples.push({
                op: 'final',
                start,
                ms: rec.now() - start,
                outcome: last.status === 'REFUSED' ? (last.refusalCode ?? 'REFUSED') : last.status,
              });
              seated(i, last);
            },
            (err: unknown) => {
              rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: outcomeOf(err) });
            },
          ),
        );
      } else seated(i, r);
      return r.status;
    });
    if (first !== 'QUEUED') rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: first });
  });
  const firstAnswersSeconds = rec.now() / 1000;
  await Promise.all(follows);
  sampling = false;
  await depthSampler;
  const reserveSeconds = rec.now() / 1000;
  const inversions = await fifoInversions(watcher, run.runId);
  const batches = stack ? await allocationBatches(stack) : null;
  const reserveAfter = await meter(stack, redis);
  // Redis is server-wide: clients of other programs that were busy meanwhile are counted too.
  const reserveOthers = await otherActiveRedisClients(redis, ourPids(stack), reserveSeconds);
  await sleep(STATS_SETTLE_MS);
  const xactReserveAfter = await databaseTransactions(args.pg, DB);
  const xactWindowReserve = (performance.now() - reserveBefore.at) / 1000;
  console.log(
    `rush: ${attempts} attempts answered in ${firstAnswersSeconds.toFixed(1)} s ` +
      `(${rec.of('reserve').filter((s) => s.outcome === 'QUEUED').length} QUEUED), ` +
      `all final in ${reserveSeconds.toFixed(1)} s, ${held.length} held, ${inversions} FIFO inversions`,
  );
  return {
    held,
    rec,
    depth,
    attempts,
    firstAnswersSeconds,
    reserveSeconds,
    inversions,
    batches,
    reserveBefore,
    reserveAfter,
    reserveOthers,
    xactReserveBefore,
    xactReserveAfter,
    xactWindowReserve,
  };
}
