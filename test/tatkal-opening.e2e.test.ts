// A Tatkal opening through the gateway, every part real but the payment provider and the SMS
// provider (their development simulators): a traveller verifies their identity with a one-time
// code, joins the waiting room before 10:00 IST, gets a place at the opening, is decided, pays at
// the provider's checkout, and the booking is CONFIRMED. Booking's clock is the test's (the only
// way to be at an opening on demand); everything else runs on the system clock.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common';
import { createTestRun, type TestRun } from '../packages/testkit/src/trainRun.ts';
import { istInstant } from '../subgraphs/booking/src/domain/tatkal/windows.ts';
import { adminSession as adminOf, traveller as travellerOf } from './support/accounts.ts';
import { gatewayClient } from './support/graphql.ts';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';
import { waitFor } from './support/wait.ts';

let sg: RunningSupergraph;
/** How far booking's clock is ahead of the system clock. */
let offsetMs = 0;
const gql = gatewayClient(() => sg.gatewayUrl);
let run: TestRun;
let opening: Date;
const setBookingClock = (at: Date) => {
  offsetMs = at.getTime() - Date.now();
};

beforeAll(async () => {
  sg = await startSupergraph(
    'e2e_opening',
    // Every test client is 127.0.0.1: the per-address Tatkal limit would count them as one person.
    { TATKAL_PNRS_PER_ADDRESS: '0', SWEEP_INTERVAL_MS: '200' },
    { bookingClock: () => new Date(Date.now() + offsetMs) },
  );
  run = await createTestRun(sg.db.prisma, { cls: 'THIRD_AC', coaches: 1, berthsPerCoach: 8, quotas: { TATKAL: 8 } });
  opening = istInstant(addDays(run.date, -1), 10);
});
afterAll(async () => {
  await sg?.stop();
});

const traveller = (verify: boolean) => travellerOf(sg, gql, verify);
const adminSession = () => adminOf(sg, gql);

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { id pnr status quota opensAt queuePosition estimatedWaitSeconds }
}`;
const POLL = `query($pnr: String!) {
  reservation(pnr: $pnr) { id status quota opensAt queuePosition farePaise passengers { status coach berth } }
}`;
const tatkal = () => ({
  runId: run.runId,
  from: run.stations[0],
  to: run.stations[3],
  class: 'THIRD_AC',
  quota: 'TATKAL',
  passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
});

describe('a Tatkal opening through the gateway', () => {
  it('an account that has not verified its identity is refused (IDENTITY_NOT_VERIFIED), nothing written', async () => {
    setBookingClock(new Date(opening.getTime() + 60_000));
    const token = await traveller(false);
    const before = await sg.db.prisma.reservation.count({ where: { runId: run.runId } });
    const res = await gql(RESERVE, { input: tatkal(), key: randomUUID() }, token);
    expect(res.errors?.[0]?.extensions?.code).toBe('IDENTITY_NOT_VERIFIED');
    expect(await sg.db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(before);
  });

  it('runs exist ARP + 1 days ahead (the run scheduler); the third Tatkal PNR of a morning is refused', async () => {
    // The seed made 60 days of runs; the booking service's scheduler extends every train to ARP + 1.
    const far = addDays(todayInIndia(), 61);
    const found = await gql(`query($d: Date!) { trainRun(trainNumber: "12951", date: $d) { date } }`, { d: far });
    expect(found.data!.trainRun).toEqual({ date: far });

    const other = await createTestRun(sg.db.prisma, {
      cls: 'THIRD_AC',
      coaches: 1,
      berthsPerCoach: 8,
      quotas: { TATKAL: 8 },
    });
    setBookingClock(new Date(opening.getTime() + 20 * 60_000));
    const token = await traveller(true);
    const input = { ...tatkal(), runId: other.runId, from: other.stations[0], to: other.stations[3] };
    for (let i = 0; i < 2; i++) {
      const ok = await gql(RESERVE, { input, key: randomUUID() }, token);
      expect(ok.data!.reserveSeats.status).toBe('HELD');
    }
    const before = await sg.db.prisma.reservation.count({ where: { runId: other.runId } });
    const third = await gql(RESERVE, { input, key: randomUUID() }, token);
    expect(third.errors?.[0]?.extensions).toMatchObject({ code: 'TATKAL_LIMIT_REACHED', limit: 2 });
    expect(await sg.db.prisma.reservation.count({ where: { runId: other.runId } })).toBe(before);
  });

  it('verify, wait, be admitted at the opening, decided, pay: CONFIRMED; run cancelled: refunded once', async () => {
    const token = await traveller(true);
    const other = await traveller(true);
    // Twenty seconds before 10:00 IST on the eve of the journey: the waiting room is open.
    setBookingClock(new Date(opening.getTime() - 20_000));
    const joined = await gql(RESERVE, { input: tatkal(), key: randomUUID() }, token);
    expect(joined.errors).toBeUndefined();
    expect(joined.data!.reserveSeats).toMatchObject({
      status: 'QUEUED',
      quota: 'TATKAL',
      opensAt: opening.toISOString(),
      queuePosition: null,
    });
    expect(joined.data!.reserveSeats.estimatedWaitSeconds).toBeGreaterThan(0);
    const second = await gql(RESERVE, { input: tatkal(), key: randomUUID() }, other);
    expect(second.data!.reserveSeats.status).toBe('QUEUED');
    const { pnr, id } = joined.data!.reserveSeats;
    const waiting = await gql(POLL, { pnr }, token);
    expect(waiting.data!.reservation).toMatchObject({ status: 'QUEUED', opensAt: opening.toISOString() });

    // The opening: the sweeper admits the waiting room (at random) and the allocator decides it.
    setBookingClock(new Date(opening.getTime() + 1_000));
    const held = await waitFor(
      'the reservation decided after the opening',
      async () => {
        const r = (await gql(POLL, { pnr }, token)).data!.reservation;
        return r.status === 'HELD' ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(held.opensAt).toBeNull();
    expect(held.passengers[0]).toMatchObject({ status: 'HELD', coach: 'S1' });
    expect((await sg.db.prisma.reservation.findUniqueOrThrow({ where: { id } })).queueTicket).not.toBeNull();

    // Pay at the provider's checkout: the payment event confirms the booking.
    const pay = await gql(
      `mutation($id: ID!, $key: String!) {
        createPayment(reservationId: $id, idempotencyKey: $key) { id providerRef amountPaise }
      }`,
      { id, key: randomUUID() },
      token,
    );
    expect(pay.errors).toBeUndefined();
    expect(pay.data!.createPayment.amountPaise).toBe(held.farePaise);
    const paid = await fetch(`${sg.urls.provider}/payments/${pay.data!.createPayment.providerRef}/succeed`, {
      method: 'POST',
    });
    expect(paid.ok).toBe(true);
    await waitFor(
      'the booking CONFIRMED',
      async () => (await gql(POLL, { pnr }, token)).data!.reservation.status === 'CONFIRMED',
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // The Railways cancel the run: an admin's cancelRun refunds the confirmed booking in full,
    // once, through the provider (a retry with the same key changes nothing).
    const adminToken = await adminSession();
    const CANCEL_RUN = `mutation($run: ID!, $key: String!) { cancelRun(runId: $run, idempotencyKey: $key) {
      cancelledReservations refundPaise } }`;
    const refused = await gql(CANCEL_RUN, { run: run.runId, key: randomUUID() }, token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const key = randomUUID();
    const cancelled = await gql(CANCEL_RUN, { run: run.runId, key }, adminToken);
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelRun.refundPaise).toBeGreaterThanOrEqual(held.farePaise);
    expect((await gql(CANCEL_RUN, { run: run.runId, key }, adminToken)).data!.cancelRun).toEqual(
      cancelled.data!.cancelRun,
    );
    const REFUNDS = `query($pnr: String!) {
      reservation(pnr: $pnr) { status payment { status refunds { amountPaise status } } }
    }`;
    const refunded = await waitFor(
      'the refund through the provider',
      async () => {
        const r = (await gql(REFUNDS, { pnr }, token)).data!.reservation;
        return r.payment?.status === 'REFUNDED' ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(refunded.status).toBe('CANCELLED');
    expect(refunded.payment.refunds).toEqual([{ amountPaise: held.farePaise, status: 'SUCCEEDED' }]);
  });
});
