import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity, Redis } from '@tatkal/common';
import { createRedis } from '@tatkal/common';
import type { PrismaClient } from '@tatkal/db';
import { bookingContext, type BookingContext } from '../src/context.ts';
import { buildBookingServer } from '../src/server.ts';
import { createBookingDeps } from '../src/deps.ts';
import type { ReservationView } from '../src/domain/types.ts';
import { loadView } from '../src/domain/views.ts';
import { createInventory } from '../src/domain/inventory.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { countingPrisma, type CountingPrisma } from '../../../test/support/queryCount.ts';
import { identity } from '../../../test/support/tokens.ts';
import { fareBreakdown } from '../src/domain/fares/index.ts';

let db: TestDatabase;
let redis: Redis;
const { server } = buildBookingServer({ logger: testLogger, production: false });
const ctx = (who: Identity | null = null, prisma: PrismaClient = db.prisma): BookingContext =>
  bookingContext(createBookingDeps(prisma, redis, testLogger), { identity: who, requestId: 'test', log: testLogger });
let run: { id: string; date: string };

beforeAll(async () => {
  db = await createTestDatabase('booking_network');
  redis = createRedis(REDIS_URL);
  await server.start();
  const row = await db.prisma.trainRun.findFirstOrThrow({
    where: { train: { number: '12951' } },
    orderBy: { date: 'asc' },
  });
  run = { id: row.id, date: row.date.toISOString().slice(0, 10) };
});

afterAll(async () => {
  await server.stop();
  redis?.disconnect();
  await db?.drop();
});

describe('booking entities (_entities)', () => {
  it('resolves Station by code', async () => {
    const res = await execute(
      server,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Station { code name city state } } }`,
      {
        r: [
          { __typename: 'Station', code: 'NDLS' },
          { __typename: 'Station', code: 'NOPE' },
        ],
      },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities[0]).toMatchObject({ code: 'NDLS', name: 'New Delhi', state: 'Delhi' });
    expect(res.data!._entities[1]).toBeNull();
  });

  it('resolves Train by number with its ordered stops', async () => {
    const res = await execute(
      server,
      `query($r: [_Any!]!) {
        _entities(representations: $r) {
          ... on Train { number name classes stops { sequence station { code } distanceKm } }
        }
      }`,
      { r: [{ __typename: 'Train', number: '12951' }] },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    const train = res.data!._entities[0];
    expect(train.number).toBe('12951');
    expect(train.stops[0]).toEqual({ sequence: 0, station: { code: 'MMCT' }, distanceKm: 0 });
    expect(train.stops.at(-1).station.code).toBe('NDLS');
    const km = train.stops.map((s: { distanceKm: number }) => s.distanceKm);
    expect([...km].sort((a, b) => a - b)).toEqual(km);
    expect(train.classes).toEqual(expect.arrayContaining(['FIRST_AC', 'SECOND_AC', 'THIRD_AC']));
  });

  it('resolves TrainRun by id and by (trainNumber, date)', async () => {
    const res = await execute(
      server,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on TrainRun { id trainNumber date } } }`,
      {
        r: [
          { __typename: 'TrainRun', id: run.id },
          { __typename: 'TrainRun', trainNumber: '12951', date: run.date },
          { __typename: 'TrainRun', id: 'not-a-uuid' },
        ],
      },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities).toEqual([
      { id: run.id, trainNumber: '12951', date: run.date },
      { id: run.id, trainNumber: '12951', date: run.date },
      null,
    ]);
  });
});

describe('entity fetches with many references (a few queries per kind, not a few per reference)', () => {
  const owner = identity(randomUUID());
  const stranger = identity(randomUUID());
  /** The owner's reservations oldest first, and someone else's. */
  const mine: string[] = [];
  const theirs: string[] = [];
  let counting: CountingPrisma;

  beforeAll(async () => {
    counting = countingPrisma(db.url);
    // The last runs of three trains the other tests leave alone; journeys over different parts of each route.
    const trains = await db.prisma.train.findMany({
      where: { number: { not: '12951' }, runs: { some: {} } },
      orderBy: { id: 'asc' },
      take: 3,
      include: { stops: true, runs: { orderBy: { date: 'desc' }, take: 1 } },
    });
    expect(trains).toHaveLength(3);
    const make = async (userId: string, i: number) => {
      const t = trains[i % 3]!;
      const r = t.runs[0]!;
      const last = t.stops.length - 1;
      const waitlisted = i % 4 === 0;
      const created = await db.prisma.reservation.create({
        data: {
          pnr: String(6_000_000_000 + Math.floor(Math.random() * 1e9)),
          userId,
          runId: r.id,
          fromSeq: i % 2,
          toSeq: last - (i % 3 === 0 ? 1 : 0),
          class: 'THIRD_AC',
          // Waitlisted or not, an unpaid reservation is HELD; its passengers say which.
          status: 'HELD',
          farePaise: 3_000,
          holdExpiresAt: new Date(Date.now() + 600_000),
          createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, i)),
          passengers: {
            create: [0, 1, 2].map((position) => ({
              position,
              name: `Traveller ${String.fromCharCode(65 + i)}${position}`,
              age: 20 + position,
              gender: 'FEMALE' as const,
              status: waitlisted
                ? ('WAITLISTED' as const)
                : position === 1
                  ? ('CANCELLED' as const)
                  : ('HELD' as const),
              coachCode: waitlisted ? null : 'B1',
              berthNumber: waitlisted ? null : 10 * i + position,
              berthType: waitlisted ? null : ('LB' as const),
              waitlistNumber: waitlisted ? 3 * i + position + 1 : null,
              farePaise: 1_000,
            })),
          },
        },
      });
      return created.id;
    };
    for (let i = 0; i < 8; i++) mine.push(await make(owner.userId, i));
    for (let i = 8; i < 14; i++) theirs.push(await make(stranger.userId, i));
  });
  afterAll(() => counting?.disconnect());

  const RESERVATION = `id pnr status class farePaise holdExpiresAt createdAt run { id } from { code } to { code }
    passengers { id name status coach berth berthType waitlistNumber farePaise }`;

  /** What the single-reservation read gives, shaped as the query asks. */
  const asQueried = (v: ReservationView) => ({
    id: v.id,
    pnr: v.pnr,
    status: v.status,
    class: v.class,
    farePaise: v.farePaise,
    holdExpiresAt: v.holdExpiresAt,
    createdAt: v.createdAt,
    run: { id: v.runId },
    from: { code: v.fromCode },
    to: { code: v.toCode },
    passengers: v.passengers.map((p) => ({
      id: p.id,
      name: p.name,
      status: p.status,
      coach: p.coach,
      berth: p.berth,
      berthType: p.berthType,
      waitlistNumber: p.waitlistNumber,
      farePaise: p.farePaise,
    })),
  });

  async function measured(query: string, reps: Record<string, unknown>[], who: Identity) {
    let res: Awaited<ReturnType<typeof execute>> | undefined;
    const sql = await counting.statementsDuring(async () => {
      res = await execute(server, query, { r: reps }, ctx(who, counting.prisma));
    });
    expect(res!.errors).toBeUndefined();
    return { entities: res!.data!._entities as unknown[], sql };
  }

  it('Reservation: 20 references in a fixed number of queries; only the owner or an admin sees one', async () => {
    const ids = [
      mine[0]!,
      theirs[0]!,
      mine[1]!,
      randomUUID(),
      mine[2]!,
      'nope',
      mine[3]!,
      theirs[1]!,
      mine[4]!,
      theirs[2]!,
      mine[5]!,
      randomUUID(),
      theirs[3]!,
      mine[6]!,
      theirs[4]!,
      mine[7]!,
      "' OR 1=1 --",
      theirs[5]!,
      mine[0]!,
      randomUUID(),
    ];
    const views = new Map<string, unknown>();
    for (const id of [...mine, ...theirs]) views.set(id, asQueried((await loadView(db.prisma, { id }))!));
    const Q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Reservation { ${RESERVATION} } } }`;
    const reps = ids.map((id) => ({ __typename: 'Reservation', id }));

    const own = await measured(Q, reps, owner);
    expect(own.entities).toEqual(ids.map((id) => (mine.includes(id) ? views.get(id) : null)));
    // Reservations with passengers and station codes in one statement, then runs and stations for
    // the run, from and to fields. Before batching: 54-55; before the one-statement read: 5.
    expect(own.sql).toHaveLength(3);

    const admin = await measured(Q, reps, identity(randomUUID(), 'ADMIN'));
    expect(admin.entities).toEqual(ids.map((id) => views.get(id) ?? null));
    expect(admin.sql).toHaveLength(3);
  });

  it('User.reservations: pages for 20 users in fixed queries; empty where the caller may not read', async () => {
    const users = [owner.userId, stranger.userId, ...Array.from({ length: 17 }, () => randomUUID()), 'not-a-uuid'];
    const Q = `query($r: [_Any!]!) {
      _entities(representations: $r) {
        ... on User { id reservations(first: 3) { nodes { id pnr from { code } } nextCursor } }
      }
    }`;
    const reps = users.map((id) => ({ __typename: 'User', id }));
    const short = async (id: string) => {
      const v = (await loadView(db.prisma, { id }))!;
      return { id: v.id, pnr: v.pnr, from: { code: v.fromCode } };
    };
    const newestMine = await Promise.all([...mine].reverse().map(short));
    const newestTheirs = await Promise.all([...theirs].reverse().map(short));

    const admin = await measured(Q, reps, identity(randomUUID(), 'ADMIN'));
    expect(admin.entities[0]).toEqual({
      id: owner.userId,
      reservations: { nodes: newestMine.slice(0, 3), nextCursor: expect.any(String) },
    });
    expect(admin.entities[1]).toEqual({
      id: stranger.userId,
      reservations: { nodes: newestTheirs.slice(0, 3), nextCursor: expect.any(String) },
    });
    expect(admin.entities.slice(2)).toEqual(
      users.slice(2).map((id) => ({ id, reservations: { nodes: [], nextCursor: null } })),
    );
    // Every page's ids in one query, the views in one, the stations for `from` in one: the count
    // does not grow with the users.
    expect(admin.sql).toHaveLength(3);

    // The cursor from the batched page continues where it stopped.
    const cursor = (admin.entities[0] as { reservations: { nextCursor: string } }).reservations.nextCursor;
    const next = await execute(
      server,
      `query($r: [_Any!]!, $a: String) {
        _entities(representations: $r) {
          ... on User { reservations(first: 20, after: $a) { nodes { id pnr from { code } } nextCursor } }
        }
      }`,
      { r: [{ __typename: 'User', id: owner.userId }], a: cursor },
      ctx(owner),
    );
    expect(next.data!._entities[0]).toEqual({ reservations: { nodes: newestMine.slice(3), nextCursor: null } });
    const bad = await execute(
      server,
      `query($r: [_Any!]!) {
        _entities(representations: $r) { ... on User { reservations(first: 0) { nodes { id } } } }
      }`,
      { r: [{ __typename: 'User', id: owner.userId }] },
      ctx(owner),
    );
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);

    const asOwner = await measured(Q, reps, owner);
    expect(
      asOwner.entities.map((e) => (e as { reservations: { nodes: unknown[] } }).reservations.nodes.length),
    ).toEqual([3, ...Array(19).fill(0)]);
  });
});

describe('availability', () => {
  it('counts every berth of each class as free on a fresh run, with a server-side fare', async () => {
    const res = await execute(
      server,
      `query($n: String!, $d: Date!) {
        trainRun(trainNumber: $n, date: $d) {
          availability(from: "MMCT", to: "NDLS") {
            class code totalBerths availableBerths racLength racAvailable waitlistLength farePaise
          }
        }
      }`,
      { n: '12951', d: run.date },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    const rows = res.data!.trainRun.availability;
    // GENERAL (the default quota): the class's berths less those the train earmarks for other quotas
    // and its RAC berths (counted apart: two RAC seats each, all GENERAL's).
    const seats = await db.prisma.$queryRaw<{ class: string; n: bigint; rac: bigint }[]>`
      SELECT c.class::text, count(*)::bigint - coalesce((SELECT sum(q.berths) FROM booking.quota_shares q
                                                        WHERE q.train_id = t.id AND q.class = c.class), 0)
               - coalesce((SELECT sum(c2.rac_berths) FROM booking.coaches c2
                           WHERE c2.train_id = t.id AND c2.class = c.class), 0) AS n,
             coalesce((SELECT sum(c2.rac_berths) FROM booking.coaches c2
                       WHERE c2.train_id = t.id AND c2.class = c.class), 0)::bigint AS rac
      FROM booking.seats s JOIN booking.coaches c ON c.id = s.coach_id
      JOIN booking.trains t ON t.id = c.train_id WHERE t.number = '12951' GROUP BY t.id, c.class`;
    expect(rows).toHaveLength(seats.length);
    // The seed gives 12951's sleeper-style AC classes side lower berths for RAC.
    expect(seats.some((s) => s.rac > 0n)).toBe(true);
    for (const row of rows) {
      const expected = Number(seats.find((s) => s.class === row.class)!.n);
      const racSeats = 2 * Number(seats.find((s) => s.class === row.class)!.rac);
      expect(row).toMatchObject({
        totalBerths: expected,
        availableBerths: expected,
        racLength: 0,
        racAvailable: racSeats,
        waitlistLength: 0,
      });
      expect(row.farePaise).toBeGreaterThan(0);
    }
    const fare = (cls: string) => rows.find((r: { class: string }) => r.class === cls).farePaise;
    expect(fare('FIRST_AC')).toBeGreaterThan(fare('SECOND_AC'));
    expect(fare('SECOND_AC')).toBeGreaterThan(fare('THIRD_AC'));
  });

  it('TrainRun.availability of 20 run references in fixed queries, each run counted on its own', async () => {
    // 16 runs of 12951 after the first (the other tests use that one fresh). Even runs have inventory
    // rows: k + 1 THIRD_AC berths taken RTM->NDLS, 2 more taken MMCT->BVI only; every third run
    // has k + 1 waitlisted THIRD_AC passengers (and one cancelled, which does not count).
    const runs = await db.prisma.trainRun.findMany({
      where: { train: { number: '12951' } },
      orderBy: { date: 'asc' },
      skip: 1,
      take: 16,
    });
    expect(runs).toHaveLength(16);
    const segmentBit = (seq: number) => 1n << BigInt(seq);
    for (const [k, r] of runs.entries()) {
      if (k % 2 === 0) {
        // The inventory as the preparer makes it (berths earmarked per quota); taken berths are GENERAL ones.
        await db.prisma.$transaction((tx) => createInventory(tx, [r.id]));
        const seats = await db.prisma.runSeat.findMany({
          // Berths only: an RAC berth (side lower, shared by two RAC passengers) is never sold whole.
          where: { runId: r.id, class: 'THIRD_AC', quota: 'GENERAL', rac: false },
          orderBy: { seatId: 'asc' },
          take: k + 3,
        });
        await db.prisma.runSeat.updateMany({
          where: { runId: r.id, seatId: { in: seats.slice(0, k + 1).map((x) => x.seatId) } },
          data: { occupiedMask: segmentBit(4) | segmentBit(5) },
        });
        await db.prisma.runSeat.updateMany({
          where: { runId: r.id, seatId: { in: seats.slice(k + 1).map((x) => x.seatId) } },
          data: { occupiedMask: segmentBit(0) },
        });
      }
      if (k % 3 === 0) {
        await db.prisma.reservation.create({
          data: {
            pnr: String(5_000_000_000 + Math.floor(Math.random() * 1e9)),
            userId: randomUUID(),
            runId: r.id,
            fromSeq: 0,
            toSeq: 6,
            class: 'THIRD_AC',
            // Held (unpaid) on the waitlist: a reservation's status is its money, its passengers wait.
            status: 'HELD',
            holdExpiresAt: new Date(Date.now() + 600_000),
            farePaise: 1,
            passengers: {
              create: Array.from({ length: k + 2 }, (_, i) => ({
                position: i,
                name: `Wait ${i}`,
                age: 30,
                gender: 'MALE' as const,
                status: i === 0 ? ('CANCELLED' as const) : ('WAITLISTED' as const),
                waitlistNumber: i,
                farePaise: 1,
              })),
            },
          },
        });
      }
    }
    const reps = [
      ...runs.slice(0, 5).map((r) => ({ __typename: 'TrainRun', id: r.id })),
      { __typename: 'TrainRun', id: randomUUID() },
      ...runs
        .slice(5, 10)
        .map((r) => ({ __typename: 'TrainRun', trainNumber: '12951', date: r.date.toISOString().slice(0, 10) })),
      { __typename: 'TrainRun', trainNumber: '12951', date: '2001-01-01' },
      { __typename: 'TrainRun', id: 'not-a-uuid' },
      ...runs.slice(10, 16).map((r) => ({ __typename: 'TrainRun', id: r.id })),
      { __typename: 'TrainRun', id: runs[0]!.id },
    ];
    expect(reps).toHaveLength(20);
    const Q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on TrainRun { id
      a: availability(from: "MMCT", to: "NDLS") { class availableBerths waitlistLength farePaise }
      b: availability(from: "RTM", to: "NDLS", class: THIRD_AC) { class availableBerths waitlistLength farePaise }
    } } }`;

    const totals = await db.prisma.$queryRaw<{ class: 'FIRST_AC' | 'SECOND_AC' | 'THIRD_AC'; n: bigint }[]>`
      SELECT c.class::text AS class,
             count(*)::bigint - coalesce((SELECT sum(q.berths) FROM booking.quota_shares q
                                          WHERE q.train_id = t.id AND q.class = c.class), 0)
               -- RAC berths are counted apart (racAvailable), not as berths.
               - coalesce((SELECT sum(c2.rac_berths) FROM booking.coaches c2
                           WHERE c2.train_id = t.id AND c2.class = c.class), 0) AS n
      FROM booking.seats s JOIN booking.coaches c ON c.id = s.coach_id
      JOIN booking.trains t ON t.id = c.train_id WHERE t.number = '12951' GROUP BY t.id, c.class
      ORDER BY min(c.position)`;
    const km = Object.fromEntries(
      (await db.prisma.trainStop.findMany({ where: { train: { number: '12951' } }, include: { station: true } })).map(
        (st) => [st.station.code, st.distanceKm],
      ),
    );
    const expected = (k: number, r: { id: string }) => {
      const taken = (whole: boolean) => (k % 2 === 0 ? k + 1 + (whole ? 2 : 0) : 0);
      const waiting = k % 3 === 0 ? k + 1 : 0;
      const row = (c: (typeof totals)[number], whole: boolean) => ({
        class: c.class,
        availableBerths: Number(c.n) - (c.class === 'THIRD_AC' ? taken(whole) : 0),
        waitlistLength: c.class === 'THIRD_AC' ? waiting : 0,
        farePaise: fareBreakdown({
          cls: c.class,
          distanceKm: whole ? km.NDLS! - km.MMCT! : km.NDLS! - km.RTM!,
          superfast: true,
          quota: 'GENERAL',
        }).totalPaise,
      });
      return {
        id: r.id,
        a: totals.map((c) => row(c, true)),
        b: totals.filter((c) => c.class === 'THIRD_AC').map((c) => row(c, false)),
      };
    };
    const want = reps.map((rep) => {
      const k = runs.findIndex((r) => ('id' in rep ? r.id === rep.id : r.date.toISOString().slice(0, 10) === rep.date));
      return k < 0 ? null : expected(k, runs[k]!);
    });

    const counting = countingPrisma(db.url);
    try {
      let res: Awaited<ReturnType<typeof execute>> | undefined;
      const sql = await counting.statementsDuring(async () => {
        res = await execute(server, Q, { r: reps }, ctx(null, counting.prisma));
      });
      expect(res!.errors).toBeUndefined();
      expect(res!.data!._entities).toEqual(want);
      // As few statements as for one reference of each shape: runs by id, stops and stations,
      // berths per class, taken and waitlisted; runs by (number, date) with their trains, then
      // taken and waitlisted for those. Before batching: 105. (The two shapes' chains meet in one
      // batch or two depending on timing, so the bound allows both, never one per reference.)
      const few = await counting.statementsDuring(() =>
        execute(server, Q, { r: [reps[0], reps[7], reps[11]] }, ctx(null, counting.prisma)),
      );
      expect(few.length).toBeGreaterThanOrEqual(5);
      expect(sql.length).toBeLessThanOrEqual(12);
    } finally {
      await counting.disconnect();
    }
  });

  it('rejects stations in the wrong order or off the route with BAD_USER_INPUT', async () => {
    const q = `query($id: ID!, $from: String!, $to: String!) {
      availability(runId: $id, from: $from, to: $to) { code }
    }`;

    const reversed = await execute(server, q, { id: run.id, from: 'NDLS', to: 'MMCT' }, ctx());
    expect(errorCodes(reversed)).toEqual(['BAD_USER_INPUT']);
    expect(reversed.errors![0]!.message).toMatch(/must come before/);
    const offRoute = await execute(server, q, { id: run.id, from: 'MMCT', to: 'MAS' }, ctx());
    expect(errorCodes(offRoute)).toEqual(['BAD_USER_INPUT']);
    const missing = await execute(
      server,
      q,
      { id: '00000000-0000-0000-0000-000000000000', from: 'MMCT', to: 'NDLS' },
      ctx(),
    );
    expect(errorCodes(missing)).toEqual(['NOT_FOUND']);
  });

  it('rejects a malformed date with BAD_USER_INPUT', async () => {
    const res = await execute(
      server,
      `query($d: Date!) { trainRun(trainNumber: "12951", date: $d) { id } }`,
      { d: '2026-02-30' },
      ctx(),
    );
    expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
  });
});
