// Fares, RAC and the chart through the gateway (issue 21), every part real but the payment and SMS
// providers (their development simulators): a Tatkal ticket shows its fare part by part, is paid
// exactly that, and its cancellation refunds nothing; a GENERAL booking lands on RAC and a
// cancellation moves it to a berth; a fully waitlisted paid PNR is cancelled at the chart and
// refunded the fare less clerkage through the provider, once. Booking's clock is the test's (to be
// in the Tatkal window); everything else runs on the system clock. NODE_ENV=test: ad-hoc queries.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '@tatkal/common';
import { createTestRun, racAudit, type TestRun } from '../packages/testkit/src/trainRun.ts';
import { istInstant } from '../subgraphs/booking/src/domain/tatkal/windows.ts';
import { adminSession as adminOf, traveller as travellerOf } from './support/accounts.ts';
import { gatewayClient } from './support/graphql.ts';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';
import { waitFor } from './support/wait.ts';

let sg: RunningSupergraph;
/** How far booking's clock is ahead of the system clock. */
let offsetMs = 0;
const gql = gatewayClient(() => sg.gatewayUrl);

/** Clerkage per passenger: ₹60 and 18% GST on it (docs/api.md, "Cancellation and refunds"). */
const CLERKAGE = 6000 + 1080;
/** A confirmed general sleeper ticket more than 48 h ahead: the flat ₹120 (no GST on sleeper). */
const SLEEPER_FLAT = 12_000;

beforeAll(async () => {
  sg = await startSupergraph(
    'e2e_fares_rac',
    // Every test client is 127.0.0.1 (the per-address Tatkal limit would count them as one); the
    // chart only when the test asks for it (the admin mutation).
    { TATKAL_PNRS_PER_ADDRESS: '0', CHART_INTERVAL_MS: '0' },
    { bookingClock: () => new Date(Date.now() + offsetMs) },
  );
});
afterAll(async () => {
  await sg?.stop();
});

const traveller = (verify: boolean) => travellerOf(sg, gql, verify);
const adminSession = () => adminOf(sg, gql);

const FARE =
  'basePaise reservationChargePaise superfastChargePaise tatkalChargePaise gstPaise roundingPaise totalPaise';
type Fare = Record<
  | 'basePaise'
  | 'reservationChargePaise'
  | 'superfastChargePaise'
  | 'tatkalChargePaise'
  | 'gstPaise'
  | 'roundingPaise'
  | 'totalPaise',
  number
>;
const partsOf = (f: Fare) =>
  f.basePaise + f.reservationChargePaise + f.superfastChargePaise + f.tatkalChargePaise + f.gstPaise + f.roundingPaise;

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) {
    id pnr status quota farePaise fare { ${FARE} }
    passengers { id status coach berth berthType racNumber waitlistNumber farePaise fare { ${FARE} } }
  }
}`;
const POLL = `query($pnr: String!) {
  reservation(pnr: $pnr) {
    id pnr status farePaise chartPrepared
    passengers { id status coach berth berthType racNumber waitlistNumber farePaise refundPaise }
    payment { status amountPaise refunds { amountPaise status } }
  }
}`;
const CANCEL = `mutation($pnr: String!, $key: String!) {
  cancelReservation(pnr: $pnr, idempotencyKey: $key) { status passengers { status refundPaise } }
}`;

function input(run: TestRun, quota: 'GENERAL' | 'TATKAL', n = 1) {
  return {
    runId: run.runId,
    from: run.stations[0],
    to: run.stations[3],
    class: 'SLEEPER',
    quota,
    passengers: Array.from({ length: n }, (_, i) => ({
      name: `Rao ${String.fromCharCode(65 + i)}`,
      age: 30 + i,
      gender: 'FEMALE',
    })),
  };
}

async function reserve(token: string, run: TestRun, quota: 'GENERAL' | 'TATKAL', n = 1) {
  const res = await gql(RESERVE, { input: input(run, quota, n), key: randomUUID() }, token);
  expect(res.errors).toBeUndefined();
  return res.data!.reserveSeats;
}

/** Pays at the provider's checkout exactly what createPayment asks, and waits for CONFIRMED. */
async function pay(token: string, reservation: { id: string; pnr: string; farePaise: number }) {
  const created = await gql(
    `mutation($id: ID!, $key: String!) {
      createPayment(reservationId: $id, idempotencyKey: $key) { providerRef amountPaise }
    }`,
    { id: reservation.id, key: randomUUID() },
    token,
  );
  expect(created.errors).toBeUndefined();
  expect(created.data!.createPayment.amountPaise).toBe(reservation.farePaise);
  const paid = await fetch(`${sg.urls.provider}/payments/${created.data!.createPayment.providerRef}/succeed`, {
    method: 'POST',
  });
  expect(paid.ok).toBe(true);
  return waitFor(
    `${reservation.pnr} CONFIRMED`,
    async () => {
      const r = (await gql(POLL, { pnr: reservation.pnr }, token)).data!.reservation;
      return r.status === 'CONFIRMED' ? r : null;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

describe('fares, RAC and the chart through the gateway', () => {
  let tatkalPayment: { reservationId: string };

  it('Tatkal: the fare part by part, paid exactly, CONFIRMED; cancelling refunds nothing (quoted first)', async () => {
    const run = await createTestRun(sg.db.prisma, {
      cls: 'SLEEPER',
      coaches: 1,
      berthsPerCoach: 8,
      quotas: { TATKAL: 4 },
    });
    // Twenty minutes into the sleeper Tatkal window (11:00 IST on the eve of the journey).
    offsetMs = istInstant(addDays(run.date, -1), 11, 20).getTime() - Date.now();
    const token = await traveller(true);

    const avail = await gql(
      `query($id: ID!, $f: String!, $t: String!) {
        availability(runId: $id, from: $f, to: $t, class: SLEEPER, quota: TATKAL) {
          statusCode availableBerths farePaise open fare { ${FARE} }
        }
      }`,
      { id: run.runId, f: run.stations[0], t: run.stations[3] },
    );
    expect(avail.errors).toBeUndefined();
    const offer = avail.data!.availability[0];
    expect(offer).toMatchObject({ statusCode: 'AVAILABLE 4', availableBerths: 4, open: true });
    expect(partsOf(offer.fare)).toBe(offer.fare.totalPaise);
    expect(offer.fare.totalPaise).toBe(offer.farePaise);
    // Sleeper Tatkal: 30% of the base fare, clamped to ₹100-200; no GST on a non-AC class.
    expect(offer.fare.tatkalChargePaise).toBeGreaterThanOrEqual(10_000);
    expect(offer.fare.tatkalChargePaise).toBeLessThanOrEqual(20_000);
    expect(offer.fare.gstPaise).toBe(0);
    expect(offer.fare.superfastChargePaise).toBeGreaterThan(0);

    const held = await reserve(token, run, 'TATKAL', 2);
    expect(held).toMatchObject({ status: 'HELD', quota: 'TATKAL', farePaise: 2 * offer.farePaise });
    for (const p of held.passengers) {
      expect(p).toMatchObject({ status: 'HELD', farePaise: offer.farePaise, fare: offer.fare });
      expect(partsOf(p.fare)).toBe(p.farePaise);
    }
    // The reservation's breakdown is its total's: each part twice over.
    expect(partsOf(held.fare)).toBe(held.farePaise);
    expect(held.fare).toEqual(Object.fromEntries(Object.entries(offer.fare).map(([k, v]) => [k, 2 * (v as number)])));

    const confirmed = await pay(token, held);
    expect(confirmed.payment).toMatchObject({ status: 'SUCCEEDED', amountPaise: held.farePaise });
    expect(confirmed.passengers.map((p: { status: string }) => p.status)).toEqual(['CONFIRMED', 'CONFIRMED']);

    const quote = await gql(
      `query($pnr: String!) { cancellationQuote(pnr: $pnr) {
        pnr refundPaise chargePaise refusalCode passengers { passengerId status refundPaise chargePaise rule } } }`,
      { pnr: held.pnr },
      token,
    );
    expect(quote.errors).toBeUndefined();
    expect(quote.data!.cancellationQuote).toMatchObject({
      pnr: held.pnr,
      refundPaise: 0,
      chargePaise: held.farePaise,
      refusalCode: null,
    });
    expect(quote.data!.cancellationQuote.passengers.map((p: { rule: string }) => p.rule)).toEqual([
      'CONFIRMED_TATKAL',
      'CONFIRMED_TATKAL',
    ]);
    const cancelled = await gql(CANCEL, { pnr: held.pnr, key: randomUUID() }, token);
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelReservation).toEqual({
      status: 'CANCELLED',
      passengers: [
        { status: 'CANCELLED', refundPaise: 0 },
        { status: 'CANCELLED', refundPaise: 0 },
      ],
    });
    // Its event asks payment for nothing; booking's relay published it.
    const event = await waitFor('reservation.cancelled published', async () =>
      sg.db.prisma.bookingOutbox.findFirst({
        where: {
          routingKey: 'reservation.cancelled',
          publishedAt: { not: null },
          payload: { path: ['data', 'reservationId'], equals: held.id },
        },
      }),
    );
    expect((event.payload as { data: { refundPaise: number } }).data.refundPaise).toBe(0);
    tatkalPayment = { reservationId: held.id };
  }, 120_000);

  it('GENERAL into RAC, a cancellation promotes it; a fully waitlisted PNR refunded at the chart, once', async () => {
    // Booking's clock back to now: the run leaves in 5 days (a general ticket's flat charge).
    offsetMs = 0;
    // Seven berths and one RAC berth (side lower 7: two RAC passengers).
    const run = await createTestRun(sg.db.prisma, { cls: 'SLEEPER', coaches: 1, berthsPerCoach: 8, racBerths: 1 });
    const [holder, group, racA, racB, wlA, wlB] = await Promise.all(Array.from({ length: 6 }, () => traveller(false)));
    const h1 = await reserve(holder!, run, 'GENERAL');
    const h2 = await reserve(group!, run, 'GENERAL', 6);
    expect([h1, h2].flatMap((r) => r.passengers.map((p: { status: string }) => p.status))).toEqual(
      Array(7).fill('HELD'),
    );
    const r1 = await reserve(racA!, run, 'GENERAL');
    const r2 = await reserve(racB!, run, 'GENERAL');
    expect([r1, r2].map((r) => r.status)).toEqual(['HELD', 'HELD']);
    expect([r1, r2].map((r) => r.passengers[0])).toEqual([
      expect.objectContaining({ status: 'RAC', racNumber: 1, coach: 'S1', berth: 7, berthType: 'SL' }),
      expect.objectContaining({ status: 'RAC', racNumber: 2, coach: 'S1', berth: 7, berthType: 'SL' }),
    ]);
    const w1 = await reserve(wlA!, run, 'GENERAL');
    const w2 = await reserve(wlB!, run, 'GENERAL');
    expect(
      [w1, w2].map((r) => [r.passengers[0].status, r.passengers[0].waitlistNumber, r.passengers[0].coach]),
    ).toEqual([
      ['WAITLISTED', 1, null],
      ['WAITLISTED', 2, null],
    ]);
    const avail = await gql(
      `query($id: ID!, $f: String!, $t: String!) {
        availability(runId: $id, from: $f, to: $t, class: SLEEPER) { statusCode racLength racAvailable waitlistLength }
      }`,
      { id: run.runId, f: run.stations[0], t: run.stations[3] },
    );
    expect(avail.data!.availability[0]).toEqual({
      statusCode: 'WL 3',
      racLength: 2,
      racAvailable: 0,
      waitlistLength: 2,
    });

    // Paid: the berth holder, RAC 1 and both waitlisted PNRs (a waitlisted ticket is bought too).
    const paidH1 = await pay(holder!, h1);
    await pay(racA!, r1);
    await pay(wlA!, w1);
    await pay(wlB!, w2);
    expect((await gql(POLL, { pnr: r1.pnr }, racA)).data!.reservation.passengers[0]).toMatchObject({
      status: 'RAC',
      racNumber: 1,
    });

    // The berth holder cancels: RAC 1 gets the berth (CONFIRMED), WL 1 the RAC half (RAC 3).
    const berth = paidH1.passengers[0].berth;
    const cancelled = await gql(CANCEL, { pnr: h1.pnr, key: randomUUID() }, holder);
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelReservation).toEqual({
      status: 'CANCELLED',
      passengers: [{ status: 'CANCELLED', refundPaise: h1.farePaise - SLEEPER_FLAT }],
    });
    const promoted = (await gql(POLL, { pnr: r1.pnr }, racA)).data!.reservation;
    expect(promoted).toMatchObject({ status: 'CONFIRMED', chartPrepared: false });
    expect(promoted.passengers[0]).toMatchObject({ status: 'CONFIRMED', coach: 'S1', berth, racNumber: null });
    expect((await gql(POLL, { pnr: w1.pnr }, wlA)).data!.reservation.passengers[0]).toMatchObject({
      status: 'RAC',
      racNumber: 3,
      coach: 'S1',
      berth: 7,
    });
    expect((await gql(POLL, { pnr: w2.pnr }, wlB)).data!.reservation.passengers[0]).toMatchObject({
      status: 'WAITLISTED',
      waitlistNumber: 2,
    });

    // The chart, by an admin: WL 2 is still fully waitlisted: cancelled, fare less clerkage.
    const admin = await adminSession();
    const PREPARE = `mutation($run: ID!, $key: String!) {
      prepareChart(runId: $run, chart: FIRST, idempotencyKey: $key) {
        chart prepared releasedBerths promotedReservations cancelledReservations refundPaise run { id chartPrepared }
      }
    }`;
    const forbidden = await gql(PREPARE, { run: run.runId, key: randomUUID() }, wlB);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const chart = await gql(PREPARE, { run: run.runId, key: randomUUID() }, admin);
    expect(chart.errors).toBeUndefined();
    expect(chart.data!.prepareChart).toEqual({
      chart: 'FIRST',
      prepared: true,
      releasedBerths: 0,
      promotedReservations: 0,
      cancelledReservations: 1,
      refundPaise: w2.farePaise - CLERKAGE,
      run: { id: run.runId, chartPrepared: true },
    });
    const again = await gql(PREPARE, { run: run.runId, key: randomUUID() }, admin);
    expect(again.data!.prepareChart).toMatchObject({ prepared: false, cancelledReservations: 0, refundPaise: 0 });

    // The refund reaches the provider once: one Refund of exactly the fare less clerkage.
    const refunded = await waitFor(
      'the chart refund through the provider',
      async () => {
        const r = (await gql(POLL, { pnr: w2.pnr }, wlB)).data!.reservation;
        return r.payment?.refunds.some((x: { status: string }) => x.status === 'SUCCEEDED') ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(refunded).toMatchObject({ status: 'CANCELLED', chartPrepared: true });
    expect(refunded.passengers[0]).toMatchObject({ status: 'CANCELLED', refundPaise: w2.farePaise - CLERKAGE });
    expect(refunded.payment.refunds).toEqual([{ amountPaise: w2.farePaise - CLERKAGE, status: 'SUCCEEDED' }]);
    // And the berth holder's cancellation was refunded its own amount, once.
    const h1Refunds = await waitFor('the cancellation refund', async () => {
      const r = (await gql(POLL, { pnr: h1.pnr }, holder)).data!.reservation;
      return r.payment?.refunds.length ? r.payment.refunds : null;
    });
    expect(h1Refunds).toEqual([{ amountPaise: h1.farePaise - SLEEPER_FLAT, status: 'SUCCEEDED' }]);

    // After the chart a confirmed berth is not cancelled online.
    const closed = await gql(CANCEL, { pnr: r1.pnr, key: randomUUID() }, racA);
    expect(closed.errors?.[0]?.extensions?.code).toBe('CANCELLATION_CLOSED');
    expect(await racAudit(sg.db.prisma, run.runId)).toEqual({
      racOverShared: 0,
      racMaskMismatch: 0,
      racSoldAsBerth: 0,
    });

    // The Tatkal cancellation (published long before the chart's) refunded nothing at payment.
    expect(tatkalPayment, 'the Tatkal test ran first').toBeDefined();
    const tatkalPaid = await sg.db.prisma.payment.findMany({
      where: { reservationId: tatkalPayment.reservationId },
      include: { refunds: true },
    });
    expect(tatkalPaid.map((p) => [p.status, p.refunds.length])).toEqual([['SUCCEEDED', 0]]);
  }, 180_000);
});
