// The messaging layer against the real RabbitMQ and PostgreSQL: the outbox relay (confirms,
// nacks, unroutable returns, a broker cut-off between commit and publish), consumer retries with
// back-off into the DLQ, DLQ inspection/replay/purge, poison messages and inbox dedupe.
// Every exchange and queue carries a unique prefix, so files and runs never collide.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { createBrokerProxy } from '../../../test/support/brokerProxy.ts';
import { scrape } from '../../../test/support/metrics.ts';
import { express, listen, type HttpServer } from './http.ts';
import { createLogger, type Logger } from './logger.ts';
import { instrumentHttp } from './telemetry.ts';
import {
  createAmqpConnection,
  declareExchange,
  dlqName,
  inspectDlq,
  purgeDlq,
  recordInbox,
  replayDlq,
  retryQueueName,
  startConsumer,
  startOutboxRelay,
  unroutedName,
  type AmqpConnection,
  type Envelope,
  type OutboxRelay,
} from './messaging.ts';

const prefix = `t${randomBytes(4).toString('hex')}_`;
let db: TestDatabase;
let admin: ChannelModel;
let connection: AmqpConnection;
const exchanges = new Set<string>();
const queues = new Set<string>();
const cleanups: (() => Promise<unknown>)[] = [];
// This process's /metrics, as Prometheus scrapes the services that run the relay and consumers.
let metricsServer: HttpServer;
const metrics = () => scrape(metricsServer.url);

/** A logger whose JSON lines the test reads. */
function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('messaging-test', 'info', stream), lines };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

async function queueCount(queue: string): Promise<number> {
  const ch = await admin.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

async function getMessage(queue: string) {
  const ch = await admin.createChannel();
  try {
    const msg = await ch.get(queue, { noAck: true });
    return msg || null;
  } finally {
    await ch.close();
  }
}

async function insertOutbox(table: 'booking' | 'payment', exchange: string, routingKey: string, createdAt = new Date()) {
  const id = randomUUID();
  const payload = { type: routingKey, version: 1, occurredAt: createdAt.toISOString(), correlationId: `corr-${id.slice(0, 8)}`, data: { n: 1 } };
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO ${table}.outbox (id, exchange, routing_key, payload, created_at) VALUES ($1::uuid, $2, $3, $4::jsonb, $5)`,
    id,
    exchange,
    routingKey,
    JSON.stringify(payload),
    createdAt,
  );
  return { id, payload };
}

async function outboxRow(table: 'booking' | 'payment', id: string) {
  const rows = await db.prisma.$queryRawUnsafe<{ published_at: Date | null; attempts: number }[]>(`SELECT published_at, attempts FROM ${table}.outbox WHERE id = $1::uuid`, id);
  return rows[0]!;
}

const relayFor = (conn: AmqpConnection, table: 'booking' | 'payment' = 'booking', logger: Logger = testLogger): OutboxRelay => {
  const relay = startOutboxRelay({ prisma: db.prisma, table, connection: conn, logger, intervalMs: 50, exchangeName: (e) => `${prefix}${e}`, maxBackoffMs: 500 });
  cleanups.push(() => relay.stop());
  return relay;
};

beforeAll(async () => {
  db = await createTestDatabase('messaging');
  admin = await amqp.connect(AMQP_URL);
  connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: 'messaging-test' });
  await connection.waitForConnection(10_000);
  // Rows other test files' code might have left in the template are not ours to publish.
  await db.prisma.$executeRawUnsafe(`UPDATE booking.outbox SET published_at = now() WHERE published_at IS NULL`);
  await db.prisma.$executeRawUnsafe(`UPDATE payment.outbox SET published_at = now() WHERE published_at IS NULL`);
  const app = express();
  instrumentHttp(app);
  metricsServer = await listen(app, 0, '127.0.0.1');
});

afterEach(async () => {
  // Relays and consumers of one test must not act on the next test's rows.
  while (cleanups.length) await cleanups.pop()!();
});

afterAll(async () => {
  await metricsServer?.close();
  await connection?.close();
  if (admin) {
    const ch = await admin.createChannel();
    for (const q of queues) await ch.deleteQueue(q).catch(() => {});
    for (const e of exchanges) await ch.deleteExchange(e).catch(() => {});
    await ch.close().catch(() => {});
    await admin.close();
  }
  await db?.drop();
});

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
    expect(msg.properties).toMatchObject({ messageId: first.id, correlationId: first.payload.correlationId, type: 'reservation.held', contentType: 'application/json', deliveryMode: 2 });
    expect(JSON.parse(msg.content.toString())).toEqual({ id: first.id, ...first.payload });

    // Room again: the nacked row goes out on its retry.
    await waitFor('second row published', async () => (await outboxRow('booking', second.id)).published_at);
    const again = (await getMessage(queue))!;
    expect(again.properties.messageId).toBe(second.id);
    expect(await queueCount(queue)).toBe(0);
    // Every publish is counted by the broker's answer: two confirmed, the nack(s) failed.
    const m = await metrics();
    expect(m.sum('tatkal_messages_published_total', { exchange: `${prefix}confirms`, outcome: 'confirmed' })).toBe(2);
    expect(m.sum('tatkal_messages_published_total', { exchange: `${prefix}confirms`, outcome: 'failed' })).toBeGreaterThanOrEqual(1);
  });

  it('leaves an unroutable row (basic.return) for retry and delivers it once a queue is bound', async () => {
    const ch = await admin.createChannel();
    const exchange = `${prefix}unroutable`;
    await ch.assertExchange(exchange, 'topic', { durable: false });
    exchanges.add(exchange);
    const row = await insertOutbox('booking', 'unroutable', 'reservation.cancelled');
    const { logger, lines } = captureLogger();
    relayFor(connection, 'booking', logger);

    await waitFor('row returned', async () => (await outboxRow('booking', row.id)).attempts >= 1);
    expect((await outboxRow('booking', row.id)).published_at).toBeNull();
    // The relay's warning names the row and its correlation id (the PNR for reservation events).
    expect(lines.find((l) => l.outboxId === row.id)).toMatchObject({ msg: 'outbox row not published; will retry', correlationId: row.payload.correlationId, reason: 'returned as unroutable' });
    expect((await metrics()).sum('tatkal_messages_published_total', { exchange: exchange, outcome: 'returned' })).toBeGreaterThanOrEqual(1);

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

  it('RabbitMQ restarted (or the relay cut off) between commit and publish: the outbox delivers after recovery', async () => {
    const { queue } = await exchangeWithQueue('cutoff');
    // The relay reaches RabbitMQ through a TCP proxy this test can stop and start: a broker restart.
    const proxy = await createBrokerProxy();
    await proxy.start();
    const cutConnection = createAmqpConnection({ url: proxy.url, logger: testLogger, name: 'cutoff-test', minDelayMs: 50, maxDelayMs: 300 });
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
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await outboxRow('payment', during.id)).toEqual({ published_at: null, attempts: 0 });
    const lagging = await metrics();
    expect(lagging.sum('tatkal_outbox_unpublished_rows', { table: 'payment' })).toBeGreaterThanOrEqual(1);
    expect(lagging.sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'payment' })).toBeGreaterThanOrEqual(90);

    // The broker is back on the same address.
    await proxy.start();
    // Runs last (cleanups pop): after the relay and its connection are closed.
    cleanups.unshift(proxy.stop);
    await cutConnection.waitForConnection(10_000);
    await waitFor('row published after recovery', async () => (await outboxRow('payment', during.id)).published_at);
    const ids = [(await getMessage(queue))?.properties.messageId, (await getMessage(queue))?.properties.messageId];
    expect(ids).toEqual([before.id, during.id]);
    expect((await metrics()).sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'payment' })).toBeLessThan(90);
  });
});

describe('consumer, retries and the DLQ', () => {
  const envelope = (over: Partial<Envelope> = {}): Envelope => ({
    id: randomUUID(),
    type: 'payment.succeeded',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: 'corr-1',
    data: { reservationId: randomUUID() },
    ...over,
  });

  async function consumerTopology(name: string) {
    const exchange = `${prefix}${name}`;
    const queue = `${prefix}${name}.events`;
    const ch = await admin.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false });
    await ch.close();
    exchanges.add(exchange);
    for (const q of [queue, retryQueueName(queue), dlqName(queue)]) queues.add(q);
    return { exchange, queue };
  }

  async function publishRaw(exchange: string, routingKey: string, body: Buffer, messageId: string) {
    const ch = await admin.createConfirmChannel();
    ch.publish(exchange, routingKey, body, { persistent: true, messageId, contentType: 'application/json' });
    await ch.waitForConfirms();
    await ch.close();
  }

  it('retries a failing handler with back-off, parks it in the DLQ after the limit, and replays it to a working handler', async () => {
    const { exchange, queue } = await consumerTopology('retry');
    const calls: { attempt: number; at: number; id: string }[] = [];
    let healthy = false;
    const processed: string[] = [];
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: 'payment.*' }],
      logger: testLogger,
      maxAttempts: 3,
      retryDelayMs: 200,
      handler: async (env, ctx) => {
        calls.push({ attempt: ctx.attempt, at: Date.now(), id: env.id });
        if (!healthy) throw new Error('booking database is on fire');
        processed.push(`${env.id}:${ctx.routingKey}`);
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    const env = envelope();
    await publishRaw(exchange, 'payment.succeeded', Buffer.from(JSON.stringify(env)), env.id);
    await waitFor('message in the DLQ', async () => (await queueCount(dlqName(queue))) === 1);
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    // Counted per delivery outcome, and the DLQ gauge (read from the broker at scrape time) shows it.
    const parked = await metrics();
    expect(parked.sum('tatkal_consumer_deliveries_total', { queue, outcome: 'retry' })).toBe(2);
    expect(parked.sum('tatkal_consumer_deliveries_total', { queue, outcome: 'dead_lettered' })).toBe(1);
    expect(parked.sum('tatkal_queue_dlq_messages', { queue })).toBe(1);
    expect(parked.find('tatkal_queue_depth_messages', { queue })).toHaveLength(1);
    // Back-off doubles: ~200 ms before the 2nd attempt, ~400 ms before the 3rd.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(180);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(380);
    expect(await queueCount(queue)).toBe(0);
    expect(await queueCount(retryQueueName(queue))).toBe(0);

    // Inspecting does not take the message away.
    const peek = await inspectDlq(admin, queue, 5);
    expect(peek.count).toBe(1);
    expect(peek.messages).toHaveLength(1);
    expect(peek.messages[0]).toMatchObject({ messageId: env.id });
    expect(peek.messages[0]!.headers).toMatchObject({
      'x-attempts': 3,
      'x-dead-letter-reason': 'max-attempts',
      'x-last-error': 'booking database is on fire',
      'x-original-exchange': exchange,
      'x-original-routing-key': 'payment.succeeded',
    });
    expect(JSON.parse(peek.messages[0]!.body)).toEqual(env);
    // The peek answers only once the message is back: the next peek and count see it at once.
    expect(await queueCount(dlqName(queue))).toBe(1);
    for (let i = 0; i < 5; i++) expect((await inspectDlq(admin, queue, 5)).messages.map((m) => m.messageId)).toEqual([env.id]);

    // The handler is fixed; the operator replays.
    healthy = true;
    expect(await replayDlq(admin, queue, 'all')).toBe(1);
    await waitFor('replayed message processed', () => processed.length === 1);
    expect(processed).toEqual([`${env.id}:payment.succeeded`]);
    expect(calls.at(-1)!.attempt).toBe(1);
    expect(await queueCount(dlqName(queue))).toBe(0);
    const replayed = await metrics();
    expect(replayed.sum('tatkal_consumer_deliveries_total', { queue, outcome: 'ack' })).toBe(1);
    expect(replayed.sum('tatkal_queue_dlq_messages', { queue })).toBe(0);
  });

  it('runs each delivery in a log scope: every line of its handling carries the message id and correlation id', async () => {
    const { exchange, queue } = await consumerTopology('logscope');
    const { logger, lines } = captureLogger();
    // Code the handler calls logs through its own logger, not the one the consumer hands over.
    const deep = captureLogger();
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: '#' }],
      logger,
      retryDelayMs: 50,
      handler: async (env, ctx) => {
        ctx.logger.info('handling');
        await new Promise((r) => setTimeout(r, 5));
        deep.logger.info({ step: ctx.attempt }, 'deep inside the handler');
        if (ctx.attempt === 1) throw new Error('first attempt fails');
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    const env = envelope({ correlationId: '4123456789' });
    await publishRaw(exchange, 'reservation.cancelled', Buffer.from(JSON.stringify(env)), env.id);
    await waitFor('second attempt handled', () => deep.lines.length === 2);
    await waitFor('acked', async () => (await metrics()).sum('tatkal_consumer_deliveries_total', { queue, outcome: 'ack' }) === 1);
    const handling = [...lines, ...deep.lines].filter((l) => l.msg !== 'consuming');
    expect(handling.map((l) => l.msg)).toEqual(expect.arrayContaining(['handling', 'handler failed; will retry', 'deep inside the handler']));
    for (const line of handling) expect(line, String(line.msg)).toMatchObject({ messageId: env.id, correlationId: '4123456789' });
    expect(deep.lines.map((l) => l.step)).toEqual([1, 2]);
    // Outside a delivery, nothing is added.
    deep.logger.info('after');
    expect(deep.lines.at(-1)).not.toHaveProperty('correlationId');
  });

  it('sends a poison (non-JSON) message straight to the DLQ without calling the handler; purge empties the DLQ', async () => {
    const { exchange, queue } = await consumerTopology('poison');
    let calls = 0;
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: '#' }],
      logger: testLogger,
      retryDelayMs: 50,
      handler: async () => {
        calls++;
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    await publishRaw(exchange, 'payment.succeeded', Buffer.from('{"id": "x", this is not json'), 'poison-1');
    await publishRaw(exchange, 'payment.succeeded', Buffer.from(JSON.stringify({ id: 'no-type', data: {} })), 'poison-2');
    await waitFor('poison in the DLQ', async () => (await queueCount(dlqName(queue))) === 2);
    const peek = await inspectDlq(admin, queue);
    expect(peek.messages.map((m) => [m.messageId, m.headers['x-dead-letter-reason']])).toEqual([
      ['poison-1', 'poison'],
      ['poison-2', 'poison'],
    ]);
    expect(String(peek.messages[0]!.headers['x-last-error'])).toMatch(/^body is not JSON/);
    expect(String(peek.messages[1]!.headers['x-last-error'])).toMatch(/^not an event envelope: type/);
    expect(calls).toBe(0);
    await waitFor('peeked messages back', async () => (await queueCount(dlqName(queue))) === 2);
    expect(await purgeDlq(admin, queue)).toBe(2);
    expect(await queueCount(dlqName(queue))).toBe(0);
  });

  it('processes a message delivered several times (same id, concurrently) once, thanks to the inbox', async () => {
    const { exchange, queue } = await consumerTopology('dedupe');
    const outcomes: string[] = [];
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: '#' }],
      logger: testLogger,
      prefetch: 10,
      handler: async (env) => {
        const outcome = await db.prisma.$transaction(async (tx) => {
          if (!(await recordInbox(tx, 'payment', env))) return 'duplicate';
          // The state change: here one outbox row per processed message.
          await tx.$executeRawUnsafe(`INSERT INTO payment.outbox (id, exchange, routing_key, payload) VALUES (gen_random_uuid(), 'effects', $1, '{}'::jsonb)`, env.id);
          await new Promise((r) => setTimeout(r, 100));
          return 'processed';
        });
        outcomes.push(outcome);
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    const env = envelope();
    await Promise.all(Array.from({ length: 5 }, () => publishRaw(exchange, 'payment.succeeded', Buffer.from(JSON.stringify(env)), env.id)));
    await waitFor('all deliveries handled', () => outcomes.length === 5);
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(4);
    const effects = await db.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*)::bigint AS n FROM payment.outbox WHERE routing_key = $1`, env.id);
    expect(Number(effects[0]!.n)).toBe(1);
    const inbox = await db.prisma.paymentInbox.findMany({ where: { messageId: env.id } });
    expect(inbox.map((r) => r.type)).toEqual(['payment.succeeded']);
    expect(await queueCount(dlqName(queue))).toBe(0);
  });
});
