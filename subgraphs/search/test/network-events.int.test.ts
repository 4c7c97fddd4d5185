// Booking's network events through the real RabbitMQ into search's projection: applied once per
// message id (search.inbox in the same transaction), searchable at once, malformed ones parked.
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAmqpConnection,
  deleteEventTopology,
  inspectDlq,
  registerTopology,
  type AmqpConnection,
  type Consumer,
  type Envelope,
} from '@tatkal/common';
import { createPostgresBackend } from '../src/backends/postgres.ts';
import { normalizeQuery } from '../src/domain/text.ts';
import { connectionsBetween, loadRoutes } from '../src/domain/trainsBetween.ts';
import {
  networkEventsQueue,
  startNetworkEventsConsumer,
  type NetworkEventOutcome,
} from '../src/events/networkEvents.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

const prefix = `t${randomBytes(4).toString('hex')}.`;
const spec = networkEventsQueue(prefix);
let db: TestDatabase;
let admin: ChannelModel;
let connection: AmqpConnection;
let consumer: Consumer;
const outcomes = new Map<string, NetworkEventOutcome[]>();

function event(type: string, data: Record<string, unknown>, id = randomUUID()): Envelope {
  return { id, type, version: 1, occurredAt: new Date().toISOString(), correlationId: null, data };
}

async function publish(...events: Envelope[]) {
  const ch = await admin.createConfirmChannel();
  for (const e of events)
    ch.publish(spec.bindings[0]!.exchange, e.type, Buffer.from(JSON.stringify(e)), {
      persistent: true,
      messageId: e.id,
      type: e.type,
      contentType: 'application/json',
    });
  await ch.waitForConfirms();
  await ch.close();
}

const inboxRows = async (id: string) => db.prisma.searchInbox.count({ where: { messageId: id } });

beforeAll(async () => {
  db = await createTestDatabase('search_events');
  admin = await amqp.connect(AMQP_URL);
  connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: 'search-events-test' });
  registerTopology(connection, { exchanges: [spec.bindings[0]!.exchange], queues: [] });
  await connection.waitForConnection(10_000);
  consumer = startNetworkEventsConsumer({
    connection,
    prisma: db.prisma,
    logger: testLogger,
    prefix,
    maxAttempts: 1,
    onOutcome: (outcome, envelope) => {
      outcomes.set(envelope.id, [...(outcomes.get(envelope.id) ?? []), outcome]);
    },
  });
  await consumer.ready;
});

afterAll(async () => {
  await consumer?.stop();
  await connection?.close();
  if (admin) {
    await deleteEventTopology(admin, prefix, ['search.booking-events']);
    await admin.close();
  }
  await db?.drop();
});

describe('search.booking-events consumer', () => {
  it('upserts a new station once, with search_text, and makes it searchable by its alias', async () => {
    const e = event('network.station.upserted', {
      code: 'TSTX',
      name: 'Téstpur Junction',
      city: 'Testpur',
      state: 'Assam',
      aliases: ['Oldtestpur'],
    });
    await publish(e, e);
    await waitFor('both deliveries', () => (outcomes.get(e.id)?.length ?? 0) === 2);
    // Concurrent deliveries: the second waits on the inbox key, then finds it taken.
    expect([...outcomes.get(e.id)!].sort()).toEqual(['APPLIED', 'DUPLICATE']);
    expect(await inboxRows(e.id)).toBe(1);
    expect(await db.prisma.stationDoc.findUnique({ where: { code: 'TSTX' } })).toEqual({
      code: 'TSTX',
      name: 'Téstpur Junction',
      city: 'Testpur',
      state: 'Assam',
      aliases: ['Oldtestpur'],
      searchText: 'testpur junction testpur tstx oldtestpur',
    });
    const hits = await createPostgresBackend(db.prisma).searchStations(normalizeQuery('oldtestpur'), {
      offset: 0,
      size: 3,
    });
    expect(hits[0]).toMatchObject({
      code: 'TSTX',
      highlights: [{ field: 'alias', value: 'Oldtestpur', start: 0, length: 10 }],
    });
  });

  it('updates an existing train: route, runsOn and classes, so trainsBetween sees the change', async () => {
    const e = event('network.train.upserted', {
      number: '12123',
      name: 'Deccan Queen',
      type: 'SUPERFAST',
      runsOn: [0, 2, 4],
      classes: ['CC', '2S', 'EC'],
      stops: [
        { code: 'CSMT', seq: 0, arrivalMin: null, departureMin: 1030, distanceKm: 0 },
        { code: 'PUNE', seq: 1, arrivalMin: 1225, departureMin: null, distanceKm: 192 },
      ],
    });
    await publish(e);
    await waitFor('the train event', () => outcomes.has(e.id));
    expect(outcomes.get(e.id)).toEqual(['APPLIED']);
    const doc = await db.prisma.trainDoc.findUniqueOrThrow({ where: { number: '12123' } });
    expect({
      runsOn: doc.runsOn,
      classes: doc.classes,
      stationCodes: doc.stationCodes,
      searchText: doc.searchText,
    }).toEqual({
      runsOn: [0, 2, 4],
      classes: ['CC', '2S', 'EC'],
      stationCodes: ['CSMT', 'PUNE'],
      searchText: '12123 deccan queen superfast',
    });
    const routes = await loadRoutes(db.prisma, 'CSMT', 'PUNE');
    // 2026-12-08 is a Tuesday (1): not a day this train runs any more; Wednesday is.
    expect(connectionsBetween(routes, 'CSMT', 'PUNE', '2026-12-08', 'EC').map((c) => c.number)).toEqual([]);
    expect(
      connectionsBetween(routes, 'CSMT', 'PUNE', '2026-12-09', 'EC').map((c) => [c.number, c.departure, c.arrival]),
    ).toEqual([['12123', '17:10', '20:25']]);
  });

  it('records other network events without changing documents; parks malformed ones in the DLQ untouched', async () => {
    const other = event('network.zone.renamed', { zone: 'CR' });
    const bad = event('network.station.upserted', { code: 'bad code', name: '', city: 'X', state: 'Y' });
    const before = await db.prisma.stationDoc.count();
    await publish(other, bad);
    await waitFor('the ignored event', () => outcomes.has(other.id));
    expect(outcomes.get(other.id)).toEqual(['IGNORED']);
    let dlq = await inspectDlq(admin, spec.queue, 5);
    await waitFor('the malformed event in the DLQ', async () => {
      dlq = await inspectDlq(admin, spec.queue, 5);
      return dlq.count === 1;
    });
    expect(dlq.messages.map((m) => m.messageId)).toEqual([bad.id]);
    expect(outcomes.has(bad.id)).toBe(false);
    expect(await inboxRows(bad.id)).toBe(0);
    expect(await db.prisma.stationDoc.count()).toBe(before);
  });
});
