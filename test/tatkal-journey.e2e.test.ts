// A traveller's whole journey through the gateway with the typed client (packages/client, by
// trusted-document hash), every part real but the payment provider (its honest simulator):
// register, log in, search, reserve, pay, and the booking is CONFIRMED by the payment event
// travelling webhook -> outbox -> RabbitMQ -> booking consumer.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { TatkalClient } from '@tatkal/client';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';
import { waitFor } from './support/wait.ts';

let sg: RunningSupergraph;

beforeAll(async () => {
  sg = await startSupergraph('e2e_journey');
});
afterAll(async () => {
  await sg?.stop();
});

describe('a Tatkal journey', () => {
  it('register, log in, search, reserve, pay by trusted documents (typed client): CONFIRMED with a PNR', async () => {
    const email = `traveller-${randomUUID()}@example.com`;
    const password = 'a long enough passphrase';
    const client = new TatkalClient({ url: sg.gatewayUrl });
    await client.register({ email, password, name: 'Asha Rao' });
    await client.signOut();
    expect(client.session).toBeNull();
    const session = await client.signIn(email, password);
    expect(session.user).toMatchObject({ email, name: 'Asha Rao', role: 'CUSTOMER' });

    // Search: station codes from what a person types, then trains between them on a date.
    expect((await client.searchStations('mumbai central', 3))[0]!.station.code).toBe('MMCT');
    expect((await client.searchStations('new delhi', 3))[0]!.station.code).toBe('NDLS');
    const date = addDays(todayInIndia(), 3);
    const trains = await client.trainsBetween({ from: 'MMCT', to: 'NDLS', date, class: 'THIRD_AC' });
    const rajdhani = trains.find((t) => t.number === '12951')!;
    expect(rajdhani.run!.availability).toEqual([expect.objectContaining({ code: '3A' })]);
    const fare = rajdhani.run!.availability[0]!.farePaise;
    expect(rajdhani.run!.availability[0]!.availableBerths).toBeGreaterThan(0);

    const reservation = await client.reserve({
      runId: rajdhani.run!.id,
      from: 'MMCT',
      to: 'NDLS',
      class: 'THIRD_AC',
      passengers: [
        { name: 'Asha Rao', age: 34, gender: 'FEMALE', berthPreference: 'LB' },
        { name: 'Ravi Rao', age: 37, gender: 'MALE' },
      ],
    });
    expect(reservation.status).toBe('HELD');
    expect(reservation.pnr).toMatch(/^\d{10}$/);
    expect(reservation.farePaise).toBe(2 * fare);

    const payment = await client.pay(reservation.id);
    expect(payment).toMatchObject({
      status: 'PENDING',
      amountPaise: reservation.farePaise,
      reservationId: reservation.id,
    });

    // The traveller pays at the provider's checkout.
    const paid = await fetch(`${sg.urls.provider}/payments/${payment.providerRef}/succeed`, { method: 'POST' });
    expect(paid.ok).toBe(true);

    let last: Awaited<ReturnType<typeof client.reservation>> = null;
    const confirmed = await waitFor(
      'the reservation CONFIRMED',
      async () => {
        last = await client.reservation(reservation.pnr);
        return last?.status === 'CONFIRMED' && last;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: () => `last seen ${JSON.stringify(last)}` },
    );
    expect(confirmed).toMatchObject({
      pnr: reservation.pnr,
      status: 'CONFIRMED',
      payment: { status: 'SUCCEEDED' },
      from: { code: 'MMCT' },
      to: { code: 'NDLS' },
    });
    expect(confirmed!.passengers.map((p) => ({ status: p.status, coach: p.coach, berth: p.berth }))).toEqual(
      reservation.passengers.map((p) => ({ status: 'CONFIRMED', coach: p.coach, berth: p.berth })),
    );
    // Exactly one confirmation, recorded once in booking's inbox.
    expect(
      await sg.db.prisma.bookingOutbox.count({
        where: {
          routingKey: 'reservation.confirmed',
          payload: { path: ['data', 'reservationId'], equals: reservation.id },
        },
      }),
    ).toBe(1);
  });
});

describe('booking -> search events', () => {
  it('every network event booking wrote (station and train upserts) reaches search once', async () => {
    const written = await sg.db.prisma.bookingOutbox.count({ where: { routingKey: { startsWith: 'network.' } } });
    expect(written).toBeGreaterThan(300); // 312 stations + 85 trains from the seed
    const applied = () => sg.db.prisma.searchInbox.count({ where: { type: { startsWith: 'network.' } } });
    await waitFor(`${written} network events applied by search`, async () => (await applied()) >= written, {
      timeoutMs: 60_000,
      intervalMs: 200,
      message: async () => `${await applied()} applied`,
    });
    expect(await applied()).toBe(written);
    expect(
      await sg.db.prisma.bookingOutbox.count({ where: { routingKey: { startsWith: 'network.' }, publishedAt: null } }),
    ).toBe(0);
  });
});
