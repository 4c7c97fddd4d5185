import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from '@tatkal/common';
import { createRedis } from '@tatkal/common';
import { bookingContext, type BookingContext } from '../src/context.ts';
import { buildBookingServer } from '../src/server.ts';
import { createBookingDeps } from '../src/deps.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';

let db: TestDatabase;
let redis: Redis;
const { server } = buildBookingServer({ logger: testLogger, production: false });
const ctx = (): BookingContext => bookingContext(createBookingDeps(db.prisma, redis), { identity: null, requestId: 'test', log: testLogger });
let run: { id: string; date: string };

beforeAll(async () => {
  db = await createTestDatabase('booking_network');
  redis = createRedis(REDIS_URL);
  await server.start();
  const row = await db.prisma.trainRun.findFirstOrThrow({ where: { train: { number: '12951' } }, orderBy: { date: 'asc' } });
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
      { r: [{ __typename: 'Station', code: 'NDLS' }, { __typename: 'Station', code: 'NOPE' }] },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities[0]).toMatchObject({ code: 'NDLS', name: 'New Delhi', state: 'Delhi' });
    expect(res.data!._entities[1]).toBeNull();
  });

  it('resolves Train by number with its ordered stops', async () => {
    const res = await execute(
      server,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Train { number name classes stops { sequence station { code } distanceKm } } } }`,
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

describe('availability', () => {
  it('counts every berth of each class as free on a fresh run, with a server-side fare', async () => {
    const res = await execute(
      server,
      `query($n: String!, $d: Date!) { trainRun(trainNumber: $n, date: $d) { availability(from: "MMCT", to: "NDLS") { class code totalBerths availableBerths waitlistLength farePaise } } }`,
      { n: '12951', d: run.date },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    const rows = res.data!.trainRun.availability;
    const seats = await db.prisma.$queryRaw<{ class: string; n: bigint }[]>`
      SELECT c.class::text, count(*)::bigint AS n FROM booking.seats s JOIN booking.coaches c ON c.id = s.coach_id
      JOIN booking.trains t ON t.id = c.train_id WHERE t.number = '12951' GROUP BY c.class`;
    expect(rows).toHaveLength(seats.length);
    for (const row of rows) {
      const expected = Number(seats.find((s) => s.class === row.class)!.n);
      expect(row).toMatchObject({ totalBerths: expected, availableBerths: expected, waitlistLength: 0 });
      expect(row.farePaise).toBeGreaterThan(0);
    }
    const fare = (cls: string) => rows.find((r: { class: string }) => r.class === cls).farePaise;
    expect(fare('FIRST_AC')).toBeGreaterThan(fare('SECOND_AC'));
    expect(fare('SECOND_AC')).toBeGreaterThan(fare('THIRD_AC'));
  });

  it('rejects stations in the wrong order or off the route with BAD_USER_INPUT', async () => {
    const q = `query($id: ID!, $from: String!, $to: String!) { availability(runId: $id, from: $from, to: $to) { code } }`;
    const reversed = await execute(server, q, { id: run.id, from: 'NDLS', to: 'MMCT' }, ctx());
    expect(errorCodes(reversed)).toEqual(['BAD_USER_INPUT']);
    expect(reversed.errors![0]!.message).toMatch(/must come before/);
    const offRoute = await execute(server, q, { id: run.id, from: 'MMCT', to: 'MAS' }, ctx());
    expect(errorCodes(offRoute)).toEqual(['BAD_USER_INPUT']);
    const missing = await execute(server, q, { id: '00000000-0000-0000-0000-000000000000', from: 'MMCT', to: 'NDLS' }, ctx());
    expect(errorCodes(missing)).toEqual(['NOT_FOUND']);
  });

  it('rejects a malformed date with BAD_USER_INPUT', async () => {
    const res = await execute(server, `query($d: Date!) { trainRun(trainNumber: "12951", date: $d) { id } }`, { d: '2026-02-30' }, ctx());
    expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
  });
});
