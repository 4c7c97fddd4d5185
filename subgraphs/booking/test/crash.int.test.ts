// Booking processes killed (SIGKILL) with requests still in the queue: every PNR a client was
// answered is decided afterwards, by a restarted process or by the instance that survived, once,
// in ticket order. Real processes (packages/testkit/src/processes.ts) on one test database and the real Redis.
//
// To kill at a known point, the test holds the run's allocator row (booking.run_allocators) in
// transactions of its own and lets the allocator through a batch at a time: a hold queued behind
// the allocator usually gets the row after the allocator's batch, and the allocator's next one
// waits for it. Usually: a released row lock goes to whichever backend takes it first, and on a
// busy machine the allocator's next statement, sent the moment its batch commits, sometimes beats
// the hold that had been waiting (seen in CI); so a few whole batches may be decided at the kill.
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis } from '@tatkal/common';
import { localPortsOf, startProcess, type RunningProcess } from '../../../packages/testkit/src/processes.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL, REDIS_URL } from '../../../test/support/env.ts';
import { createTestKeys, type TestKeys } from '../../../test/support/tokens.ts';
import { retrying } from '../../../test/support/wait.ts';
import { allocatorLeaseKey } from '../src/domain/allocator/allocator.ts';
import {
  createTestRun,
  doubleBookingAudit,
  fifoAudit,
  lockAllocatorRow,
  lockWaiters,
  waitFor,
  type TestRun,
} from './fixtures.ts';

let db: TestDatabase;
let keys: TestKeys;
let redis: Redis;
let jwksServer: Server;
let env: Record<string, string>;
const processes: RunningProcess[] = [];

const BATCH = 5;
const LEASE_MS = 30_000;
const TAKE_FENCE = 'INSERT INTO booking.run_allocators AS a';
const ALLOCATOR_BATCH = 'SELECT fence FROM booking.run_allocators';
const HELD_BY_TEST = 'SELECT fence AS held_fence';

beforeAll(async () => {
  db = await createTestDatabase('booking_crash');
  keys = await createTestKeys();
  redis = createRedis(REDIS_URL);
  jwksServer = createServer((_req, res) =>
    res.setHeader('content-type', 'application/json').end(JSON.stringify(keys.jwks)),
  );
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
  env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    AUTH_JWKS_URL: jwksUrl,
    DB_POOL_SIZE: '8',
    EVENTS_ENABLED: 'false',
    // These tests follow the lease path (lease, fence, batches). On a loaded machine an event loop
    // late by 250 ms made a live Redis "unavailable", and an instance then allocated without the
    // lease while the test held it (seen in CI): a slow Redis must not look dead here.
    REDIS_COMMAND_TIMEOUT_MS: '5000',
    // Answer QUEUED at once; small batches; the sweeper resumes queues every half second.
    QUEUE_WAIT_MS: '0',
    ALLOCATION_BATCH_SIZE: String(BATCH),
    // The allocator waits for the test's holds: on a busy machine longer than the 10 s defaults
    // of its lease and transaction, which would make it start over and spoil the choreography.
    ALLOCATOR_LEASE_MS: String(LEASE_MS),
    DB_TX_TIMEOUT_MS: '60000',
    SWEEP_INTERVAL_MS: '500',
    INVENTORY_HORIZON_DAYS: '0',
  };
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  redis?.disconnect();
  jwksServer?.close();
  await db?.drop();
});

async function start(name: string): Promise<RunningProcess> {
  const p = await startProcess(name, 'subgraphs/booking/src/index.ts', env);
  processes.push(p);
  // Fetch the JWKS once before the burst, as a running service has it cached.
  const res = await graphql(p, await keys.sign(randomUUID()), '{ myReservations { nodes { id } } }');
  expect(res.errors).toBeUndefined();
  return p;
}

type Answer = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

async function graphql(
  p: RunningProcess,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Answer> {
  const res = await fetch(`${p.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Answer;
}

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { id pnr status queuePosition }
}`;

interface Made {
  token: string;
  pnr: string;
  id: string;
}

/** `count` requests of 1-3 passengers (a fixed mix), sent at once to `targets` in turn; every answer must be QUEUED. */
async function rush(run: TestRun, targets: RunningProcess[], count: number, offset = 0): Promise<Made[]> {
  const tokens = await Promise.all(Array.from({ length: count }, () => keys.sign(randomUUID())));
  return Promise.all(
    tokens.map(async (token, i) => {
      const n = 1 + (((i + offset) * 7) % 3);
      const variables = {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[3],
          class: 'SLEEPER',
          passengers: Array.from({ length: n }, (_, k) => ({
            name: `Crash Test ${String.fromCharCode(65 + k)}`,
            age: 30 + k,
            gender: 'FEMALE',
          })),
        },
      };
      // A client as documented: TRY_AGAIN is retried with the same key.
      const answer = await retrying(
        'reserveSeats',
        (attempt) => graphql(targets[(i + attempt) % targets.length]!, token, RESERVE, variables),
        (a) => a.errors?.[0]?.extensions?.code === 'TRY_AGAIN',
        { attempts: 5, backoffMs: (attempt) => 200 * attempt },
      );
      expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
      const view = answer.data!.reserveSeats as { id: string; pnr: string; status: string; queuePosition: number };
      expect(view.status).toBe('QUEUED');
      expect(view.queuePosition).toBeGreaterThanOrEqual(1);
      return { token, pnr: view.pnr, id: view.id };
    }),
  );
}

function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    /* exited */
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** SIGKILL: the service (node, a child of tsx) and tsx itself, nothing flushed or closed. */
async function crash(p: RunningProcess) {
  const pids = [...descendants(p.pid).reverse(), p.pid];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await waitFor(`${p.name} to die`, async () => pids.every((pid) => !alive(pid)), { timeoutMs: 10_000 });
  // Nothing left to stop (stop() would wait for an exit that already happened).
  processes.splice(processes.indexOf(p), 1);
}

async function stop(p: RunningProcess) {
  processes.splice(processes.indexOf(p), 1);
  await p.stop();
}

const countByStatus = async (runId: string) => {
  const rows = await db.prisma.reservation.groupBy({ by: ['status'], where: { runId }, _count: true });
  return Object.fromEntries(rows.map((r) => [r.status, r._count])) as Record<string, number>;
};

/**
 * The process a waiting PostgreSQL backend (by client port) belongs to, looked up while it waits
 * (an idle pooled connection may be closed later).
 */
function ownerOf(port: number, candidates: RunningProcess[]): RunningProcess {
  const owners = candidates.filter((p) => localPortsOf([p.pid]).has(port));
  expect(owners.map((o) => o.name)).toHaveLength(1);
  return owners[0]!;
}

/**
 * With the allocator waiting to take its fence behind `first` (a hold of the allocator row),
 * lets it decide a batch (or a few, see the top) and stops it in its next one, which waits for
 * the row. Returns the hold to release and the processes whose backends took the fence and ran
 * the batches.
 */
async function batchesThenStall(
  run: TestRun,
  first: Awaited<ReturnType<typeof lockAllocatorRow>>,
  candidates: RunningProcess[],
) {
  const waiting = (text: string) => lockWaiters(db.prisma, db.name, text);
  const before = BigInt(await first.locked);
  const [taker] = await waitFor('an allocator to wait to take its fence', async () => {
    const w = await waiting(TAKE_FENCE);
    return w.length === 1 && w;
  });
  const owners = [ownerOf(taker!.client_port, candidates)];
  const second = await lockAllocatorRow(db.url, run.runId);
  await waitFor('the second hold to queue', async () =>
    (await waiting(HELD_BY_TEST)).some((w) => w.pid === second.pid),
  );
  await first.release();
  // The allocator took the next fence (only one allocator did), then the second hold got the row.
  expect(BigInt(await second.locked)).toBe(before + 1n);
  const [batch1] = await waitFor('a batch to wait for the row', async () => {
    const w = await waiting(ALLOCATOR_BATCH);
    return w.length === 1 && w;
  });
  owners.push(ownerOf(batch1!.client_port, candidates));
  const third = await lockAllocatorRow(db.url, run.runId);
  await waitFor('the third hold to queue', async () => (await waiting(HELD_BY_TEST)).some((w) => w.pid === third.pid));
  await second.release();
  await third.locked;
  const [batch2] = await waitFor('a later batch to wait for the row', async () => {
    const w = await waiting(ALLOCATOR_BATCH);
    return w.length === 1 && w;
  });
  owners.push(ownerOf(batch2!.client_port, candidates));
  return { hold: third, owners };
}

/** Right after the kill: whole batches decided (at least one), the open one rolled back. */
async function wholeBatchesDecided(runId: string, total: number) {
  const atKill = await countByStatus(runId);
  const decided = total - (atKill.QUEUED ?? 0);
  expect(decided % BATCH, JSON.stringify(atKill)).toBe(0);
  expect(decided).toBeGreaterThanOrEqual(BATCH);
  expect(decided).toBeLessThan(total);
  // Decided means HELD (berths or WL numbers, unpaid) or REFUSED: no reservation is WAITLISTED any more.
  expect((atKill.HELD ?? 0) + (atKill.REFUSED ?? 0)).toBe(decided);
}

/** Waits until none of the run's reservations is QUEUED, then audits every answered PNR. */
async function settledAndAudited(run: TestRun, made: Made[], reader: RunningProcess) {
  await waitFor(
    'every queued reservation to be decided',
    async () => (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })) === 0,
    { timeoutMs: 180_000, intervalMs: 250 },
  );
  const rows = await db.prisma.reservation.findMany({
    where: { runId: run.runId },
    orderBy: { queueTicket: 'asc' },
    include: { passengers: { orderBy: { position: 'asc' } } },
  });
  // One reservation per answered PNR, no other.
  expect(rows).toHaveLength(made.length);
  expect(new Map(rows.map((r) => [r.pnr, r.id]))).toEqual(new Map(made.map((m) => [m.pnr, m.id])));
  expect(rows.map((r) => r.queueTicket)).toEqual(rows.map((_, i) => i + 1));
  // Decided: held on berths, held on the waitlist (told by the passengers), or refused SOLD_OUT
  // once the waitlist is full (WAITLIST_LIMIT, 500 passengers by default); nothing refused for the
  // crash (TRY_AGAIN).
  const outcomeOf = (r: (typeof rows)[number]) =>
    r.status === 'REFUSED'
      ? `REFUSED/${r.refusalCode}`
      : `${r.status}/${[...new Set(r.passengers.map((p) => p.status))].join('+')}`;
  // A group waitlisted because it did not fit whole may leave berths free: the sweeper then
  // promotes waitlisted passengers one by one, in WL order, so at most one PNR ends up split.
  const outcomes = [...new Set(rows.map(outcomeOf))].sort();
  const allowed = ['HELD/HELD', 'HELD/WAITLISTED', 'HELD/HELD+WAITLISTED', 'REFUSED/SOLD_OUT'];
  expect(outcomes.filter((o) => !allowed.includes(o))).toEqual([]);
  expect(outcomes).toEqual(expect.arrayContaining(['HELD/HELD', 'HELD/WAITLISTED']));
  expect(rows.filter((r) => outcomeOf(r) === 'HELD/HELD+WAITLISTED').length).toBeLessThanOrEqual(1);
  const wlOf = (status: string) =>
    rows
      .flatMap((r) => r.passengers.filter((p) => p.status === status && p.waitlistNumber !== null))
      .map((p) => p.waitlistNumber!);
  // Promoted passengers (a berth, a WL number from booking) were the first in line.
  const promoted = wlOf('HELD');
  const stillWaiting = wlOf('WAITLISTED');
  if (promoted.length > 0 && stillWaiting.length > 0)
    expect(Math.max(...promoted)).toBeLessThan(Math.min(...stillWaiting));
  const waitlisted = rows.flatMap((r) => r.passengers).filter((p) => p.status === 'WAITLISTED').length;
  expect(waitlisted).toBeLessThanOrEqual(500);
  if (outcomes.includes('REFUSED/SOLD_OUT')) expect(waitlisted).toBeGreaterThan(500 - 3);
  // Each answered PNR reads as decided through the API too.
  const sample = made.filter((_, i) => i % 20 === 0);
  const read = await Promise.all(
    sample.map((m) =>
      graphql(reader, m.token, 'query($pnr: String!) { reservation(pnr: $pnr) { pnr status } }', { pnr: m.pnr }),
    ),
  );
  for (const [i, r] of read.entries())
    expect(r.data!.reservation).toEqual({
      pnr: sample[i]!.pnr,
      status: rows.find((x) => x.pnr === sample[i]!.pnr)!.status,
    });

  const fifo = await fifoAudit(db.prisma, run.runId);
  expect(fifo.inversions).toBe(0);
  // WL numbers were issued once each, 1..n in ticket order (the sweeper may have promoted some since).
  const issued = rows.flatMap((r) => r.passengers.map((p) => p.waitlistNumber)).filter((n): n is number => n !== null);
  expect(issued).toEqual(issued.map((_, i) => i + 1));
  const seated = rows.flatMap((r) => r.passengers).filter((p) => p.status === 'HELD').length;
  expect(seated).toBeGreaterThan(0);
  expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
    overlaps: 0,
    maskMismatch: 0,
    seatedPassengers: seated,
    distinctSeats: seated,
  });
  return rows;
}

describe('a booking process killed with requests in the queue', () => {
  it('one process: 400 queued requests, SIGKILL mid-drain, a new process decides every answered PNR', async () => {
    const run = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 30 });
    const first = await start('booking-crash-1');
    // Nothing is decided while the test holds the run's lease and then its allocator row: all 400
    // answers are QUEUED (the lease keeps the allocator from waiting for the row during the rush).
    const lease = allocatorLeaseKey(run.runId);
    expect(await redis.set(lease, 'held-by-test', 'PX', 120_000, 'NX')).toBe('OK');
    const made = await rush(run, [first], 400);
    expect(new Set(made.map((m) => m.pnr)).size).toBe(400);
    expect(await countByStatus(run.runId)).toEqual({ QUEUED: 400 });
    const hold = await lockAllocatorRow(db.url, run.runId);
    await hold.locked;
    expect(await redis.del(lease)).toBe(1);

    const stalled = await batchesThenStall(run, hold, [first]);
    // Killed with a batch open (waiting for the row): whole batches decided, the rest queued.
    await crash(first);
    await wholeBatchesDecided(run.runId, 400);
    await stalled.hold.release();

    // A new process resumes the queue (once the dead one's lease has run out).
    const second = await start('booking-crash-2');
    await settledAndAudited(run, made, second);
    await stop(second);
  }, 400_000);

  it('two processes, lease holder killed mid-drain: the other keeps serving, decides each answered PNR', async () => {
    const run = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 30 });
    const both = await Promise.all([start('booking-pair-1'), start('booking-pair-2')]);
    // The test holds the run's lease while the requests arrive, so that neither instance starts
    // allocating yet; then the allocator row, and hands the lease back.
    const lease = allocatorLeaseKey(run.runId);
    expect(await redis.set(lease, 'held-by-test', 'PX', 120_000, 'NX')).toBe('OK');
    const made = await rush(run, both, 400);
    expect(await countByStatus(run.runId)).toEqual({ QUEUED: 400 });
    const hold = await lockAllocatorRow(db.url, run.runId);
    await hold.locked;
    expect(await redis.del(lease)).toBe(1);

    const stalled = await batchesThenStall(run, hold, both);
    // The instance that took the lease took the fence and ran the batches.
    const holder = stalled.owners[0]!;
    expect(stalled.owners.map((o) => o.name)).toEqual(stalled.owners.map(() => holder.name));
    const survivor = both.find((p) => p !== holder)!;
    await crash(holder);
    await wholeBatchesDecided(run.runId, 400);
    await stalled.hold.release();

    // The survivor keeps taking requests while the dead holder's lease runs out ...
    const later = await rush(run, [survivor], 20, 400);
    // ... then takes the lease and decides everything, the later requests after the earlier ones.
    const rows = await settledAndAudited(run, [...made, ...later], survivor);
    const laterIds = new Set(later.map((m) => m.id));
    expect(rows.slice(400).every((r) => laterIds.has(r.id))).toBe(true);
    await stop(survivor);
  }, 400_000);
});
