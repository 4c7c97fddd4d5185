// The rush: every user reserves on its run (a bounded number in flight), a QUEUED answer is
// followed to its outcome as a front end polls; the queue depth is sampled meanwhile. At an
// opening the first `early` users join the waiting room one by one over the lead time before it
// (each then polls), and the rest come at it. Measured around it: CPU and Redis counters,
// database transactions, FIFO inversions, allocation batches.
import type pg from 'pg';
import type { Reservation, ReserveSeatsInput } from '@tatkal/client';
import type { Redis } from '@tatkal/common';
import type { TestRun } from '../../packages/testkit/src/trainRun.ts';
import { databaseTransactions, STATS_SETTLE_MS } from '../database.ts';
import { type benchClient, outcomeOf, outcomeOfHold, Recorder, runPool } from '../load.ts';
import { otherActiveRedisClients } from '../redis.ts';
import type { Stack } from '../stack.ts';
import { allocationBatches, fifoInversions, meter, ourPids } from './measure.ts';
import { args, CONCURRENCY, DB, sleep, USERS } from './options.ts';

export interface Held {
  user: number;
  id: string;
  passengers: number;
  /** createPayment gave it a payment (a checkout). */
  paymentCreated?: boolean;
  /** Epoch ms the traveller pressed "Pay" at the provider's checkout. */
  paidAt?: number;
  confirmedAt?: number;
}

export type RushResult = Awaited<ReturnType<typeof runRush>>;

export async function runRush(ctx: {
  stack: Stack | null;
  redis: Redis;
  watcher: pg.Client;
  runs: TestRun[];
  users: ReturnType<typeof benchClient>[];
  inputs: ReserveSeatsInput[];
  /** Transactions of the database when the idle reading ended (the rush's starting count). */
  idleTo: number;
  /** The window's opening (null: it is open): the first `early` users join its waiting room before it. */
  opening: Date | null;
  /** How long before the opening the waiting room's users start joining. */
  leadMs: number;
  early: number;
}) {
  const { stack, redis, watcher, runs, users, inputs, idleTo, opening, leadMs, early } = ctx;
  const runIds = runs.map((r) => r.runId);
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
        `SELECT count(*)::int AS n FROM booking.reservations WHERE run_id = ANY($1::uuid[]) AND status = 'QUEUED'`,
        [runIds],
      );
      depth.push([rec.now() / 1000, rows[0]!.n]);
      await sleep(250);
    }
  })();
  // A user's slot frees at the first answer (outcome or QUEUED); a QUEUED one is followed
  // meanwhile, as a front end would poll, until its final outcome ('final' samples).
  const follows: Promise<void>[] = [];
  // Only berth holders pay in the bench's payment phase (the paid tickets its figures are per);
  // RAC and WL holds are counted as outcomes of their own.
  const seated = (i: number, r: Reservation) => {
    if (outcomeOfHold(r) === 'HELD') held.push({ user: i, id: r.id, passengers: r.passengers.length });
  };
  /** One user's reservation: its first answer under `op`, and its final outcome ('final'). */
  const attempt = async (i: number, op: string) => {
    const start = rec.now();
    const first = await rec.time(op, async () => {
      let r: Reservation;
      try {
        r = await users[i]!.reserve(inputs[i]!, { wait: false, retry: false });
      } catch (err) {
        return outcomeOf(err);
      }
      if (r.status === 'QUEUED') {
        if (op === 'join') joined.set(r.id, i);
        // Polled as a front end does (the client's waitForOutcome: half the estimated wait, 250 ms to 2 s).
        follows.push(
          users[i]!.waitForOutcome(r, { timeoutMs: Number(args['confirm-timeout-s']) * 1000, retry: false }).then(
            (last) => {
              rec.samples.push({
                op: 'final',
                start,
                ms: rec.now() - start,
                outcome: last.status === 'REFUSED' ? (last.refusalCode ?? 'REFUSED') : outcomeOfHold(last),
              });
              seated(i, last);
            },
            (err: unknown) => {
              rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: outcomeOf(err) });
            },
          ),
        );
      } else seated(i, r);
      return outcomeOfHold(r);
    });
    if (first !== 'QUEUED') rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: first });
  };
  // The waiting room: the early users one by one from the lead time before the opening until a
  // second before it (their reservation ids, to their arrival order), then the rest at the opening.
  const joined = new Map<string, number>();
  const openingMs = opening ? opening.getTime() - rec.epoch0 : 0;
  const joins: Promise<void>[] = [];
  if (opening) {
    const from = Math.max(rec.now(), openingMs - leadMs);
    const span = openingMs - 1_000 - from;
    if (early > 0 && span < Math.min(2_000, leadMs - 1_000))
      throw new Error(`only ${(span / 1000).toFixed(1)} s left before the opening to join: the setup ran long`);
    if (from > rec.now()) await sleep(from - rec.now());
    for (let i = 0; i < early; i++) {
      const wait = from + (span / early) * (i + 0.5) - rec.now();
      if (wait > 1) await sleep(wait);
      joins.push(attempt(i, 'join'));
    }
    await Promise.all(joins);
    const untilOpening = opening.getTime() - Date.now();
    if (untilOpening > 0) await sleep(untilOpening);
  }
  const rushUsers = USERS - early;
  const rushAttempts = await runPool(rushUsers, CONCURRENCY, Date.now() + Number(args['duration-s']) * 1000, (n) =>
    attempt(early + n, 'reserve'),
  );
  const attempts = early + rushAttempts;
  // From the opening (or the start) to the last first answer of the rush.
  const firstAnswersSeconds = (rec.now() - openingMs) / 1000;
  await Promise.all(follows);
  sampling = false;
  await depthSampler;
  const reserveSeconds = (rec.now() - openingMs) / 1000;
  const inversionsByRun = await fifoInversions(watcher, runIds);
  const inversions = Object.values(inversionsByRun).reduce((a, b) => a + b, 0);
  const batches = stack ? await allocationBatches(stack) : null;
  const reserveAfter = await meter(stack, redis);
  // Redis is server-wide: clients of other programs that were busy meanwhile are counted too.
  const reserveOthers = await otherActiveRedisClients(redis, ourPids(stack), reserveSeconds);
  await sleep(STATS_SETTLE_MS);
  const xactReserveAfter = await databaseTransactions(args.pg, DB);
  const xactWindowReserve = (performance.now() - reserveBefore.at) / 1000;
  console.log(
    `rush: ${opening ? `${early} joined the waiting room, then ` : ''}` +
      `${rushAttempts} attempts answered in ${firstAnswersSeconds.toFixed(1)} s ` +
      `(${rec.of('reserve').filter((s) => s.outcome === 'QUEUED').length} QUEUED), ` +
      `all final in ${reserveSeconds.toFixed(1)} s, ${held.length} held, ${inversions} FIFO inversions`,
  );
  return {
    held,
    rec,
    depth,
    attempts,
    rushAttempts,
    joined,
    openingMs,
    inversionsByRun,
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
