// The outbox relay against the real RabbitMQ and PostgreSQL: confirms, nacks, unroutable
// returns, the alternate exchange, and a broker cut-off between commit and publish.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBrokerProxy } from '../../../../test/support/brokerProxy.ts';
import { captureLogger, testLogger } from '../../../../test/support/logger.ts';
import {
  admin,
  cleanups,
  connection,
  db,
  exchanges,
  getMessage,
  metrics,
  prefix,
  queueCount,
  queues,
  useMessagingBroker,
} from '../../../../test/support/messaging.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import type { Logger } from '../logger.ts';
import { createAmqpConnection, type AmqpConnection } from './connection.ts';
import { pruneOutbox, startOutboxRelay, type OutboxRelay } from './outbox.ts';
import { declareExchange, unroutedName } from './topology.ts';

useMessagingBroker('messaging_outbox');

/** A topic exchange plus a queue bound to it with '#'; both removed after the file. */
async function exchangeWithQueue(name: string, queueArgs: Record<string, unknown> = {}) {
  const ch = await admin.createChannel();
  const exchange = `${prefix}${name}`;
  const queue = `${prefix}${name}.q`;
  await ch.assertExchange(exchange, 'topic', { durable: false });
  await ch.assertQueue(queue, { durable: false, arguments: queueArgs });
  await ch.bindQueue(queue, exchange, '#');
  await ch.close();
  exchanges.add(exchange);
  queues.add(queue);
  return { exchange, queue };
}

async function insertOutbox(
  table: 'booking' | 'payment',
  exchange: string,
  routingKey: string,
  createdAt = new Date(),
) {
  const id = randomUUID();
  const payload = {
    type: routingKey,
    version: 1,
    occurredAt: createdAt.toISOString(),
    correlationId: `corr-${id.slice(0, 8)}`,
    data: { n: 1 },
  };
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO ${table}.outbox (id, exchange, routing_key, payload, created_at)
     VALUES ($1::uuid, $2, $3, $4::jsonb, $5)`,
    id,
    exchange,
    routingKey,
    JSON.stringify(payload),
    createdAt,
  );
  return { id, payload };
}

async function outboxRow(table: 'booking' | 'payment', id: string) {
  const rows = await db.prisma.$queryRawUnsafe<{ published_at: Date | null; attempts: number }[]>(
    `SELECT published_at, attempts FROM ${table}.outbox WHERE id = $1::uuid`,
    id,
  );
  return rows[0]!;
}

const relayFor = (
  conn: AmqpConnection,
  table: 'booking' | 'payment' = 'booking',
  logger: Logger = testLogger,
): OutboxRelay => {
  const relay = startOutboxRelay({
    prisma: db.prisma,
    table,
    connection: conn,
    logger,
    intervalMs: 50,
    exchangeName: (e) => `${prefix}${e}`,
    maxBackoffMs: 500,
  });
  cleanups.push(() => relay.stop());
  return relay;
};

describe('outbox relay', () => {
  it('publishes with confirms and marks a row published only after the broker confirmed it', async () => {
    // A queue that holds one message and makes the broker nack the next publish.
    const { queue } = await exchangeWithQueue('confirms', { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
    const first = await insertOutbox('booking', 'confirms', 'reservation.held', new Date(Date.now() - 2000));
    const second = await insertOutbox('booking', 'confirms', 'reservation.held', new Date(Date.now() - 1000));
    relayFor(connection);

    await waitFor('first row published', async () => (await outboxRow('booking', first.id)).published_at);
    await waitFor('second row nacked', async () => (await outboxRow('booking', second.id)).attempts >= 1);
    expect((await outboxRow('booking', second.id)).published_at).toBeNull();
    expect(await queueCount(queue)).toBe(1);

    const msg = (await getMessage(queue))!;
    expect(msg.properties).toMatchObject({
      messageId: first.id,
      correlationId: first.payload.correlationId,
      type: 'reservation.held',
      contentType: 'application/json',
      deliveryMode: 2,
    });
    expect(JSON.parse(msg.content.toString())).toEqual({ id: first.id, ...first.payload });

    // Room again: the nacked row goes out on its retry.
    await waitFor('second row published', async () => (await outboxRow('booking', second.id)).published_at);
    const again = (await getMessage(queue))!;
    expect(again.properties.messageId).toBe(second.id);
    expect(await queueCount(queue)).toBe(0);
    // Every publish is counted by the broker's answer: two confirmed, the nack(s) failed.
    const m = await metrics();
    expect(m.sum('tatkal_messages_published_total', { exchange: `${prefix}confirms`, outcome: 'confirmed' })).toBe(2);
    expect(
      m.sum('tatkal_messages_published_total', { exchange: `${prefix}confirms`, outcome: 'failed' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('leaves an unroutable row (basic.return) for retry and delivers it once a queue is bound', async () => {
    const ch = await admin.createChannel();
    const exchange = `${prefix}unroutable`;
    await ch.assertExchange(exchange, 'topic', { durable: false });
    exchanges.add(exchange);
    const row = await insertOutbox('booking', 'unroutable', 'reservation.cancelled');
    const { logger, lines } = captureLogger('messaging-test');
    relayFor(connection, 'booking', logger);

    await waitFor('row returned', async () => (await outboxRow('booking', row.id)).attempts >= 1);
    expect((await outboxRow('booking', row.id)).published_at).toBeNull();
    // The relay's warning names the row and its correlation id (the PNR for reservation events).
    expect(lines.find((l) => l.outboxId === row.id)).toMatchObject({
      msg: 'outbox row not published; will retry',
      correlationId: row.payload.correlationId,
      reason: 'returned as unroutable',
    });
    expect(
      (await metrics()).sum('tatkal_messages_published_total', { exchange: exchange, outcome: 'returned' }),
    ).toBeGreaterThanOrEqual(1);

    const queue = `${prefix}unroutable.q`;
    await ch.assertQueue(queue, { durable: false });
    await ch.bindQueue(queue, exchange, 'reservation.*');
    queues.add(queue);
    await ch.close();
    await waitFor('row published', async () => (await outboxRow('booking', row.id)).published_at);
    expect((await getMessage(queue))!.properties.messageId).toBe(row.id);
  });

  it('sends events nobody subscribes to into <exchange>.unrouted instead of retrying forever', async () => {
    const ch = await admin.createChannel();
    const exchange = `${prefix}withae`;
    await declareExchange(ch, exchange);
    exchanges.add(exchange);
    exchanges.add(unroutedName(exchange));
    queues.add(unroutedName(exchange));
    await ch.close();
    const row = await insertOutbox('booking', 'withae', 'reservation.held');
    relayFor(connection);
    await waitFor('row published', async () => (await outboxRow('booking', row.id)).published_at);
    expect((await outboxRow('booking', row.id)).attempts).toBe(0);
    expect((await getMessage(unroutedName(exchange)))!.properties.messageId).toBe(row.id);
  });

  it('RabbitMQ restarted (or relay cut off) between commit and publish: delivered after recovery', async () => {
    const { queue } = await exchangeWithQueue('cutoff');
    // The relay reaches RabbitMQ through a TCP proxy this test can stop and start: a broker restart.
    const proxy = await createBrokerProxy();
    await proxy.start();
    const cutConnection = createAmqpConnection({
      url: proxy.url,
      logger: testLogger,
      name: 'cutoff-test',
      minDelayMs: 50,
      maxDelayMs: 300,
    });
    cleanups.push(() => cutConnection.close());
    await cutConnection.waitForConnection(10_000);
    relayFor(cutConnection, 'payment');

    const before = await insertOutbox('payment', 'cutoff', 'payment.succeeded');
    await waitFor('row published while connected', async () => (await outboxRow('payment', before.id)).published_at);

    // The broker goes away.
    await proxy.stop();
    await waitFor('relay noticed the loss', () => !cutConnection.isConnected());
    // Committed while the broker is unreachable (dated 90 s back: the lag gauge must show it).
    const during = await insertOutbox('payment', 'cutoff', 'payment.succeeded', new Date(Date.now() - 90_000));
    // The relay's next tick sees the row (the lag gauges show it) and leaves it for later.
    const lagging = await waitFor('the relay to report the row unpublished', async () => {
      const m = await metrics();
      return m.sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'payment' }) >= 90 && m;
    });
    expect(lagging.sum('tatkal_outbox_unpublished_rows', { table: 'payment' })).toBeGreaterThanOrEqual(1);
    expect(await outboxRow('payment', during.id)).toEqual({ published_at: null, attempts: 0 });

    // The broker is back on the same address.
    await proxy.start();
    // Runs last (cleanups pop): after the relay and its connection are closed.
    cleanups.unshift(proxy.stop);
    await cutConnection.waitForConnection(10_000);
    await waitFor('row published after recovery', async () => (await outboxRow('payment', during.id)).published_at);
    const ids = [(await getMessage(queue))?.properties.messageId, (await getMessage(queue))?.properties.messageId];
    expect(ids).toEqual([before.id, during.id]);
    expect((await metrics()).sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'payment' })).toBeLessThan(
      90,
    );
  });

  it('deletes rows published before the retention, never an unpublished row however old', async () => {
    const day = 86_400_000;
    const published = async (daysAgo: number) => {
      const row = await insertOutbox('payment', 'retention', 'payment.succeeded', new Date(Date.now() - daysAgo * day));
      await db.prisma.$executeRawUnsafe(
        `UPDATE payment.outbox SET published_at = now() - ($2 || ' days')::interval WHERE id = $1::uuid`,
        row.id,
        String(daysAgo),
      );
      return row.id;
    };
    const old = await Promise.all(Array.from({ length: 3 }, () => published(8)));
    const recent = await published(1);
    const unpublished = await insertOutbox(
      'payment',
      'retention',
      'payment.succeeded',
      new Date(Date.now() - 30 * day),
    );
    // The relay would publish the unpublished row; the statement is what is under test here.
    expect(await pruneOutbox(db.prisma, 'payment', 7 * day)).toBe(3);
    const left = await db.prisma.$queryRawUnsafe<{ id: string }[]>(
      'SELECT id::text FROM payment.outbox WHERE id = ANY($1::uuid[])',
      [...old, recent, unpublished.id],
    );
    expect(left.map((r) => r.id).sort()).toEqual([recent, unpublished.id].sort());
    expect(await pruneOutbox(db.prisma, 'payment', 7 * day)).toBe(0);
    await db.prisma.$executeRawUnsafe('DELETE FROM payment.outbox WHERE id = ANY($1::uuid[])', [
      recent,
      unpublished.id,
    ]);
  });

  it('a relay prunes on its first pass', async () => {
    const row = await insertOutbox('booking', 'retention', 'reservation.held', new Date(Date.now() - 9 * 86_400_000));
    await db.prisma.$executeRawUnsafe(
      `UPDATE booking.outbox SET published_at = now() - interval '8 days' WHERE id = $1::uuid`,
      row.id,
    );
    relayFor(connection);
    await waitFor('the old published row deleted', async () => {
      const rows = await db.prisma.$queryRawUnsafe<unknown[]>(
        'SELECT 1 FROM booking.outbox WHERE id = $1::uuid',
        row.id,
      );
      return rows.length === 0;
    });
  });
});
