// Three booking processes, as Kubernetes runs booking (deploy/k8s) or `docker compose up --scale
// booking=3`: every one runs the hold sweeper (every 100 ms here) and the outbox relay (every
// 50 ms) against one database and one broker. Holds expire in three waves while all three
// sweepers race for them; the relays race for every outbox row, the seed's network events
// included. Afterwards: each hold expired exactly once (by one process), each outbox event was
// published exactly once, the waitlist moved up in WL order, nothing was logged as an error, and
// the database audits clean.
import { createServer, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareExchange, deleteEventTopology, eventTopology } from '@tatkal/common';
import { startProcess, type RunningProcess } from '../../../packages/testkit/src/processes.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL, REDIS_URL } from '../../../test/support/env.ts';
import { scrape } from '../../../test/support/metrics.ts';
import { createTestKeys, type TestKeys } from '../../../test/support/tokens.ts';
import { retrying, waitFor } from '../../../test/support/wait.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

const PROCESSES = 3;
const BERTHS = 20;
const WAITLISTED = 10;
const prefix = `t${randomBytes(4).toString('hex')}_`;
const topology = eventTopology(prefix);
const tap = `${prefix}test.tap`;

let db: TestDatabase;
let keys: TestKeys;
let jwksServer: Server;
let run: TestRun;
let admin: ChannelModel;
let channel: Channel;
const instances: RunningProcess[] = [];
/** Pino lines at error level or above, from any process. */
const errorLines: string[] = [];
/** Every message the booking exchange routed, by AMQP message id. */
const received = new Map<string, { routingKey: string; count: number; reservationId?: string }>();
/** Markers the test queued on the tap itself (not events), by message id, once they came back. */
const markers = new Set<string>();
const MARKER = 'test.marker';

beforeAll(async () => {
  db = await createTestDatabase('booking_replicas');
  keys = await createTestKeys();
  jwksServer = createServer((_req, res) =>
    res.setHeader('content-type', 'application/json').end(JSON.stringify(keys.jwks)),
  );
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
  run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });

  // A tap on the booking exchange, bound before any process starts: every event any relay
  // publishes is routed here too, the seed's outbox rows included.
  admin = await amqp.connect(AMQP_URL);
  channel = await admin.createChannel();
  await declareExchange(channel, topology.exchanges.booking);
  await channel.assertQueue(tap, { durable: false });
  await channel.bindQueue(tap, topology.exchanges.booking, '#');
  await channel.consume(tap, (msg) => {
    if (!msg) return;
    const id = String(msg.properties.messageId);
    if (msg.properties.type === MARKER) {
      markers.add(id);
      channel.ack(msg);
      return;
    }
    const body = JSON.parse(msg.content.toString()) as { data?: { reservationId?: string } };
    const seen = received.get(id);
    received.set(id, {
      routingKey: msg.fields.routingKey,
      count: (seen?.count ?? 0) + 1,
      reservationId: body.data?.reservationId,
    });
    channel.ack(msg);
  });

  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    AUTH_JWKS_URL: jwksUrl,
    DB_POOL_SIZE: '8',
    EVENTS_PREFIX: prefix,
    SWEEP_INTERVAL_MS: '100',
    OUTBOX_INTERVAL_MS: '50',
    LOG_LEVEL: 'warn',
    INVENTORY_HORIZON_DAYS: '0',
  };
  const onStdoutLine = (name: string) => (line: string) => {
    try {
      if ((JSON.parse(line) as { level?: number }).level! >= 50) errorLines.push(`${name}: ${line}`);
    } catch {
      errorLines.push(`${name} (not JSON): ${line}`);
    }
  };
  instances.push(
    ...(await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) =>
        startProcess(`booking-${i + 1}`, 'subgraphs/booking/src/index.ts', env, {
          onStdoutLine: onStdoutLine(`booking-${i + 1}`),
        }),
      ),
    )),
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(instances.map((p) => p.stop()));
  jwksServer?.close();
  if (admin) {
    await deleteEventTopology(admin, prefix, [tap]).catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
  await db?.drop();
});

const query = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { id status passengers { status } }
}`;
type Answer = {
  data?: { reserveSeats: { id: string; status: string; passengers: { status: string }[] } };
  errors?: { message: string; extensions: { code: string } }[];
};

/** One passenger, through process i % 3; TRY_AGAIN is retried with the same key on the next process. */
async function reserve(i: number): Promise<Answer> {
  const token = await keys.sign(randomUUID());
  const body = JSON.stringify({
    query,
    variables: {
      key: randomUUID(),
      input: {
        runId: run.runId,
        from: run.stations[0],
        to: run.stations[3],
        class: 'SLEEPER',
        passengers: [{ name: 'Replica Rider', age: 30 + (i % 50), gender: 'FEMALE' }],
      },
    },
  });
  return retrying(
    'reserveSeats',
    async (attempt) => {
      const res = await fetch(`${instances[(i + attempt - 1) % PROCESSES]!.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      return (await res.json()) as Answer;
    },
    (answer) => answer.errors?.[0]?.extensions.code === 'TRY_AGAIN',
    { attempts: 6, backoffMs: (attempt) => 100 * attempt },
  );
}

const reservations = () =>
  db.prisma.reservation.findMany({
    where: { runId: run.runId },
    select: { id: true, status: true, passengers: { select: { status: true, waitlistNumber: true } } },
  });
type Row = Awaited<ReturnType<typeof reservations>>[number];
/**
 * A reservation's status is its money (HELD until paid, for berths and WL numbers alike); its one
 * passenger says whether it holds a berth ('HELD/HELD') or waits ('HELD/WAITLISTED').
 */
const outcomeOf = (r: { status: string; passengers: { status: string }[] }) => `${r.status}/${r.passengers[0]!.status}`;
const ON_BERTH = 'HELD/HELD';
const ON_WL = 'HELD/WAITLISTED';

/** The WL number each waitlisted reservation was given (it keeps it after promotion). */
let wlOf: Map<string, number>;

/** Makes the given holds due, then waits until the sweepers expired them and promoted what fits. */
async function expire(ids: string[], expect: { held: number; waitlisted: number }) {
  await db.prisma.$executeRaw`
    UPDATE booking.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = ANY(${ids}::uuid[])`;
  return waitFor(
    `${ids.length} holds expired`,
    async () => {
      const rs = await reservations();
      const count = (o: string) => rs.filter((r) => outcomeOf(r) === o).length;
      const expiredDone = ids.every((id) => rs.find((r) => r.id === id)!.status === 'EXPIRED');
      return expiredDone && count(ON_BERTH) === expect.held && count(ON_WL) === expect.waitlisted && rs;
    },
    { timeoutMs: 30_000 },
  );
}

/** WL numbers of the reservations whose passenger was promoted so far (no longer waiting). */
const promotedWl = (rs: Row[]) =>
  rs
    .filter((r) => r.passengers[0]!.status !== 'WAITLISTED' && wlOf.has(r.id))
    .map((r) => wlOf.get(r.id)!)
    .sort((a, b) => a - b);

describe(`${PROCESSES} booking processes: sweepers and outbox relays side by side`, () => {
  it('expire each hold once, publish each event once, promote the waitlist in order', async () => {
    // 30 people at once across the three processes: 20 berths held, 10 waitlisted.
    const answers = await Promise.all(Array.from({ length: BERTHS + WAITLISTED }, (_, i) => reserve(i)));
    const statuses = answers.map((a) => (a.data ? outcomeOf(a.data.reserveSeats) : a.errors?.[0]?.extensions.code));
    expect(statuses.filter((s) => s === ON_BERTH)).toHaveLength(BERTHS);
    expect(statuses.filter((s) => s === ON_WL)).toHaveLength(WAITLISTED);
    const initial = await reservations();
    wlOf = new Map(initial.filter((r) => outcomeOf(r) === ON_WL).map((r) => [r.id, r.passengers[0]!.waitlistNumber!]));
    expect([...wlOf.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: WAITLISTED }, (_, i) => i + 1));
    const firstHolds = initial.filter((r) => outcomeOf(r) === ON_BERTH).map((r) => r.id);

    // Wave 1: five holds fall due at once; the three sweepers race for them. WL 1-5 move up.
    let rs = await expire(firstHolds.slice(0, 5), { held: BERTHS, waitlisted: 5 });
    expect(promotedWl(rs)).toEqual([1, 2, 3, 4, 5]);
    // Wave 2: five more; WL 6-10.
    rs = await expire(firstHolds.slice(5, 10), { held: BERTHS, waitlisted: 0 });
    expect(promotedWl(rs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Wave 3: every hold left, the promoted ones too (their passengers on berths, the reservations
    // still HELD, unpaid): nothing to promote any more.
    expect(rs.filter((r) => wlOf.has(r.id)).map(outcomeOf)).toEqual(Array(WAITLISTED).fill(ON_BERTH));
    const stillHeld = rs.filter((r) => r.status === 'HELD').map((r) => r.id);
    expect(stillHeld).toHaveLength(BERTHS);
    rs = await expire(stillHeld, { held: 0, waitlisted: 0 });
    expect(rs.every((r) => r.status === 'EXPIRED')).toBe(true);

    // Every outbox row published (by some relay), and the tap got each exactly once.
    const outbox = await waitFor(
      'every outbox row published',
      async () => {
        const rows = await db.prisma.bookingOutbox.findMany({
          select: { id: true, routingKey: true, publishedAt: true, payload: true },
        });
        return rows.every((r) => r.publishedAt) && rows.every((r) => received.has(r.id)) && rows;
      },
      { timeoutMs: 30_000 },
    );
    // A relay marks a row published only after the broker confirmed it, and a confirmed message is
    // already in the tap queue: any copy of any row, a late duplicate too, sits in the tap ahead of
    // a marker queued now. The tap delivers in order, so once the marker is back, so is every copy.
    const marker = randomUUID();
    channel.sendToQueue(tap, Buffer.from('{}'), { messageId: marker, type: MARKER });
    await waitFor('the tap drained up to a marker queued after the last publish', () => markers.has(marker));
    expect(received.size, 'no message without an outbox row').toBe(outbox.length);
    expect(
      [...received.values()].filter((m) => m.count !== 1),
      'each event delivered once',
    ).toEqual([]);
    const seedEvents = outbox.filter((r) => r.routingKey.startsWith('network.')).length;
    expect(seedEvents, "the seed's network events were relayed by the three processes too").toBeGreaterThan(100);

    // Each hold expired exactly once: one reservation.expired event per reservation (20 holds and
    // 10 promoted holds), one promotion per waitlisted reservation.
    const byKey = (key: string) =>
      outbox
        .filter((r) => r.routingKey === key)
        .map((r) => (r.payload as { data: { reservationId: string } }).data.reservationId);
    const expired = byKey('reservation.expired');
    expect(expired).toHaveLength(BERTHS + WAITLISTED);
    expect(new Set(expired)).toEqual(new Set(initial.map((r) => r.id)));
    const promoted = byKey('reservation.promoted');
    expect(new Set(promoted)).toEqual(new Set(wlOf.keys()));
    expect(promoted).toHaveLength(WAITLISTED);

    // The sweepers' own count agrees: 30 expiries across the three processes, none counted twice.
    const perProcess = await Promise.all(
      instances.map(async (p) => (await scrape(p.url)).sum('tatkal_holds_expired_total')),
    );
    expect(perProcess.reduce((a, b) => a + b, 0)).toBe(BERTHS + WAITLISTED);
    const failedPublishes = await Promise.all(
      instances.map(async (p) =>
        (await scrape(p.url)).samples.filter(
          (s) => s.name === 'tatkal_messages_published_total' && s.labels.outcome !== 'confirmed' && s.value > 0,
        ),
      ),
    );
    expect(failedPublishes.flat()).toEqual([]);
    const relayed = await Promise.all(
      instances.map(async (p) =>
        (await scrape(p.url)).sum('tatkal_messages_published_total', { outcome: 'confirmed' }),
      ),
    );
    console.info(
      `holds expired per process: ${perProcess.join(', ')}; ` +
        `events published per process: ${relayed.join(', ')} (${outbox.length} outbox rows)`,
    );

    // The database afterwards: no berth held, no segment occupied, every mask clear.
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 0,
      distinctSeats: 0,
    });
    const occupied = await db.prisma.$queryRaw<{ occupancy: bigint; masks: bigint }[]>`
      SELECT (SELECT count(*) FROM booking.seat_occupancy WHERE run_id = ${run.runId}::uuid)::bigint AS occupancy,
             (SELECT count(*) FROM booking.run_seats
              WHERE run_id = ${run.runId}::uuid AND occupied_mask <> 0)::bigint AS masks`;

    expect(occupied).toEqual([{ occupancy: 0n, masks: 0n }]);
    const passengers = await db.prisma.passenger.groupBy({
      by: ['status'],
      where: { reservation: { runId: run.runId } },
      _count: true,
    });
    expect(passengers.map((p) => [p.status, p._count])).toEqual([['CANCELLED', BERTHS + WAITLISTED]]);

    // No process logged an error, and all three are still running.
    expect(errorLines).toEqual([]);
    for (const p of instances) expect(p.child.exitCode, p.name).toBeNull();
  });
});
