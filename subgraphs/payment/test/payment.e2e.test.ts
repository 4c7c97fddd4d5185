// Paying for a hold through the whole supergraph: gateway -> payment -> booking (the hold check,
// with the caller's token) -> provider simulator -> signed webhook -> payment SUCCEEDED.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayClient, type GatewayResult } from '../../../test/support/graphql.ts';
import { startSupergraph, type RunningSupergraph } from '../../../test/support/supergraph.ts';
import { createTestRun } from '../../booking/test/fixtures.ts';

let sg: RunningSupergraph;

beforeAll(async () => {
  sg = await startSupergraph('e2e_payment');
});
afterAll(async () => {
  await sg?.stop();
});

type Result = GatewayResult;
const gql = gatewayClient(() => sg.gatewayUrl);
const codes = (r: Result) => (r.errors ?? []).map((e) => e.extensions?.code);

async function register(): Promise<{ token: string; userId: string }> {
  const r = await gql(
    `mutation($e: String!) {
      register(input: { email: $e, password: "a long enough passphrase", name: "Payer" }) { accessToken user { id } }
    }`,
    {
      e: `payer-${randomUUID()}@example.com`,
    },
  );
  expect(r.errors).toBeUndefined();
  return { token: r.data!.register.accessToken, userId: r.data!.register.user.id };
}

const CREATE = `mutation($r: ID!, $k: String!) {
  createPayment(reservationId: $r, idempotencyKey: $k) { id reservationId amountPaise status providerRef checkoutUrl }
}`;

describe('createPayment through the gateway', () => {
  it('pays a held reservation: PENDING at the booking fare, replayable, private, SUCCEEDED by webhook', async () => {
    const owner = await register();
    const other = await register();
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 8 });
    const reserved = await gql(
      `mutation($input: ReserveSeatsInput!, $key: String!) {
        reserveSeats(input: $input, idempotencyKey: $key) { id pnr status farePaise }
      }`,
      {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[2],
          class: 'SLEEPER',
          passengers: [
            { name: 'Asha Rao', age: 34, gender: 'FEMALE' },
            { name: 'Ravi Rao', age: 36, gender: 'MALE' },
          ],
        },
      },
      owner.token,
    );
    expect(reserved.errors).toBeUndefined();
    const reservation = reserved.data!.reserveSeats as { id: string; pnr: string; status: string; farePaise: number };
    expect(reservation.status).toBe('HELD');
    expect(reservation.farePaise).toBeGreaterThan(0);

    const key = randomUUID();
    const created = await gql(CREATE, { r: reservation.id, k: key }, owner.token);
    expect(created.errors).toBeUndefined();
    const payment = created.data!.createPayment;
    expect(payment).toMatchObject({
      reservationId: reservation.id,
      amountPaise: reservation.farePaise,
      status: 'PENDING',
    });
    expect(payment.checkoutUrl).toBe(`${sg.urls.provider}/checkout/${payment.providerRef}`);
    expect((await fetch(payment.checkoutUrl)).status).toBe(200);

    // The same key replays; another user's token cannot even see the reservation.
    expect((await gql(CREATE, { r: reservation.id, k: key }, owner.token)).data!.createPayment).toEqual(payment);
    const stolen = await gql(CREATE, { r: reservation.id, k: randomUUID() }, other.token);
    expect(codes(stolen)).toEqual(['NOT_FOUND']);
    expect(stolen.data).toBeNull();
    expect(codes(await gql(CREATE, { r: reservation.id, k: randomUUID() }))).toEqual(['UNAUTHENTICATED']);
    expect(await sg.db.prisma.payment.count({ where: { reservationId: reservation.id } })).toBe(1);

    // The traveller pays at the provider; its signed webhook reaches the sidecar.
    sg.provider.succeed(payment.providerRef);
    await sg.provider.idle();
    expect(sg.provider.deliveries.filter((d) => d.type === 'payment.succeeded')).toEqual([
      expect.objectContaining({ status: 'delivered', attempts: 1, lastStatus: 200 }),
    ]);
    const paid = await gql(`query($id: ID!) { payment(id: $id) { id status } }`, { id: payment.id }, owner.token);
    expect(paid.data!.payment).toEqual({ id: payment.id, status: 'SUCCEEDED' });
    expect(
      await sg.db.prisma.paymentOutbox.count({
        where: { routingKey: 'payment.succeeded', payload: { path: ['data', 'paymentId'], equals: payment.id } },
      }),
    ).toBe(1);

    // Reservation.payment (booking -> payment) and User.payments (auth -> payment) across subgraphs.
    const view = await gql(
      `query($p: String!) { reservation(pnr: $p) { pnr payment { id status amountPaise } } }`,
      { p: reservation.pnr },
      owner.token,
    );
    expect(view.errors).toBeUndefined();
    expect(view.data!.reservation).toEqual({
      pnr: reservation.pnr,
      payment: { id: payment.id, status: 'SUCCEEDED', amountPaise: reservation.farePaise },
    });
    const me = await gql(`{ me { id payments { nodes { id status } nextCursor } } }`, {}, owner.token);
    expect(me.data!.me).toEqual({
      id: owner.userId,
      payments: { nodes: [{ id: payment.id, status: 'SUCCEEDED' }], nextCursor: null },
    });
    expect((await gql(`{ myPayments { nodes { id } } }`, {}, other.token)).data!.myPayments).toEqual({ nodes: [] });
  });

  it("refuses a reservation that is no longer held, with INVALID_STATE from booking's own status", async () => {
    const owner = await register();
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const reserved = await gql(
      `mutation($input: ReserveSeatsInput!, $key: String!) {
        reserveSeats(input: $input, idempotencyKey: $key) { id pnr }
      }`,

      {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[1],
          class: 'SLEEPER',
          passengers: [{ name: 'Meera Iyer', age: 29, gender: 'FEMALE' }],
        },
      },
      owner.token,
    );
    const { id, pnr } = reserved.data!.reserveSeats as { id: string; pnr: string };
    const cancelled = await gql(
      `mutation($p: String!, $k: String!) { cancelReservation(pnr: $p, idempotencyKey: $k) { status } }`,
      { p: pnr, k: randomUUID() },
      owner.token,
    );
    expect(cancelled.data!.cancelReservation.status).toBe('CANCELLED');
    const res = await gql(CREATE, { r: id, k: randomUUID() }, owner.token);
    expect(codes(res)).toEqual(['INVALID_STATE']);
    expect(res.errors![0]!.extensions!.status).toBe('CANCELLED');
    expect(await sg.db.prisma.payment.count({ where: { reservationId: id } })).toBe(0);
  });
});
