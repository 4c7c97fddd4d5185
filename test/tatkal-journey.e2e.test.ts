// A traveller's whole journey through the gateway, every part real but the payment provider
// (its honest simulator): register, log in, search, reserve, pay, and the booking is CONFIRMED
// by the payment event travelling webhook -> outbox -> RabbitMQ -> booking consumer.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { gatewayClient } from './support/graphql.ts';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';

let sg: RunningSupergraph;

beforeAll(async () => {
  sg = await startSupergraph('e2e_journey');
});
afterAll(async () => {
  await sg?.stop();
});

const gql = gatewayClient(() => sg.gatewayUrl);

async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a Tatkal journey', () => {
  it('register, log in, search, reserve, pay: the booking is CONFIRMED with a PNR', async () => {
    const email = `traveller-${randomUUID()}@example.com`;
    const password = 'a long enough passphrase';
    expect((await gql(`mutation($e: String!, $p: String!) { register(input: { email: $e, password: $p, name: "Asha Rao" }) { user { id } } }`, { e: email, p: password })).errors).toBeUndefined();
    const login = await gql(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`, { e: email, p: password });
    const token = login.data!.login.accessToken as string;

    // Search: station codes from what a person types, then trains between them on a date.
    const from = await gql(`{ searchStations(query: "mumbai central", limit: 3) { station { code } } }`);
    const to = await gql(`{ searchStations(query: "new delhi", limit: 3) { station { code } } }`);
    expect(from.data!.searchStations[0].station.code).toBe('MMCT');
    expect(to.data!.searchStations[0].station.code).toBe('NDLS');
    const date = addDays(todayInIndia(), 3);
    const trains = await gql(
      `query($d: Date!) { trainsBetween(from: "MMCT", to: "NDLS", date: $d) { train { number } run { id availability(from: "MMCT", to: "NDLS", class: THIRD_AC) { code availableBerths farePaise } } } }`,
      { d: date },
    );
    expect(trains.errors).toBeUndefined();
    const rajdhani = trains.data!.trainsBetween.find((t: { train: { number: string } }) => t.train.number === '12951');
    expect(rajdhani.run.availability).toEqual([expect.objectContaining({ code: '3A' })]);
    expect(rajdhani.run.availability[0].availableBerths).toBeGreaterThan(0);

    const reserved = await gql(
      `mutation($input: ReserveSeatsInput!, $key: String!) { reserveSeats(input: $input, idempotencyKey: $key) { id pnr status farePaise passengers { coach berth } } }`,
      { key: randomUUID(), input: { runId: rajdhani.run.id, from: 'MMCT', to: 'NDLS', class: 'THIRD_AC', passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE', berthPreference: 'LB' }, { name: 'Ravi Rao', age: 37, gender: 'MALE' }] } },
      token,
    );
    expect(reserved.errors).toBeUndefined();
    const reservation = reserved.data!.reserveSeats;
    expect(reservation.status).toBe('HELD');
    expect(reservation.pnr).toMatch(/^\d{10}$/);
    expect(reservation.farePaise).toBe(2 * rajdhani.run.availability[0].farePaise);

    const payment = await gql(`mutation($r: ID!, $k: String!) { createPayment(reservationId: $r, idempotencyKey: $k) { id status amountPaise providerRef } }`, { r: reservation.id, k: randomUUID() }, token);
    expect(payment.errors).toBeUndefined();
    expect(payment.data!.createPayment).toMatchObject({ status: 'PENDING', amountPaise: reservation.farePaise });

    // The traveller pays at the provider's checkout.
    const paid = await fetch(`${sg.urls.provider}/payments/${payment.data!.createPayment.providerRef}/succeed`, { method: 'POST' });
    expect(paid.ok).toBe(true);

    const confirmed = await eventually(
      () => gql(`query($p: String!) { reservation(pnr: $p) { pnr status passengers { status coach berth } payment { status } } }`, { p: reservation.pnr }, token),
      (r) => r.data?.reservation?.status === 'CONFIRMED',
    );
    expect(confirmed.data!.reservation).toEqual({
      pnr: reservation.pnr,
      status: 'CONFIRMED',
      passengers: reservation.passengers.map((p: { coach: string; berth: number }) => ({ status: 'CONFIRMED', coach: p.coach, berth: p.berth })),
      payment: { status: 'SUCCEEDED' },
    });
    // Exactly one confirmation, recorded once in booking's inbox.
    expect(await sg.db.prisma.bookingOutbox.count({ where: { routingKey: 'reservation.confirmed', payload: { path: ['data', 'reservationId'], equals: reservation.id } } })).toBe(1);
  });
});

describe('booking -> search events', () => {
  it('every network event booking wrote (station and train upserts) reaches search once', async () => {
    const written = await sg.db.prisma.bookingOutbox.count({ where: { routingKey: { startsWith: 'network.' } } });
    expect(written).toBeGreaterThan(300); // 312 stations + 85 trains from the seed
    const applied = await eventually(
      () => sg.db.prisma.searchInbox.count({ where: { type: { startsWith: 'network.' } } }),
      (n) => n >= written,
      60_000,
    );
    expect(applied).toBe(written);
    expect(await sg.db.prisma.bookingOutbox.count({ where: { routingKey: { startsWith: 'network.' }, publishedAt: null } })).toBe(0);
  });
});
