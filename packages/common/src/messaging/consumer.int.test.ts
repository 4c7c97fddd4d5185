// Consumers against the real RabbitMQ and PostgreSQL: retries with back-off into the DLQ, DLQ
// inspection/replay/purge, poison messages, log scopes and inbox dedupe.
import { setImmediate } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { captureLogger, testLogger } from '../../../../test/support/logger.ts';
import {
  admin,
  cleanups,
  connection,
  db,
  exchanges,
  metrics,
  prefix,
  queueCount,
  queues,
  useMessagingBroker,
} from '../../../../test/support/messaging.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import { startConsumer } from './consumer.ts';
import { inspectDlq, purgeDlq, replayDlq } from './dlq.ts';
import type { Envelope } from './envelope.ts';
import { recordInbox } from './inbox.ts';
import { dlqName, retryQueueName } from './topology.ts';

useMessagingBroker('messaging_consumer');

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

  it('retries a failing handler with back-off, parks it in the DLQ after the limit, replays it', async () => {
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
    for (let i = 0; i < 5; i++)
      expect((await inspectDlq(admin, queue, 5)).messages.map((m) => m.messageId)).toEqual([env.id]);

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

  it('runs each delivery in a log scope: every line carries the message id and correlation id', async () => {
    const { exchange, queue } = await consumerTopology('logscope');
    const { logger, lines } = captureLogger('messaging-test');
    // Code the handler calls logs through its own logger, not the one the consumer hands over.
    const deep = captureLogger('messaging-test');
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: '#' }],
      logger,
      retryDelayMs: 50,
      handler: async (_env, ctx) => {
        ctx.logger.info('handling');
        await setImmediate(); // a turn of the event loop: the scope must survive it
        deep.logger.info({ step: ctx.attempt }, 'deep inside the handler');
        if (ctx.attempt === 1) throw new Error('first attempt fails');
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    const env = envelope({ correlationId: '4123456789' });
    await publishRaw(exchange, 'reservation.cancelled', Buffer.from(JSON.stringify(env)), env.id);
    await waitFor('second attempt handled', () => deep.lines.length === 2);
    await waitFor(
      'acked',
      async () => (await metrics()).sum('tatkal_consumer_deliveries_total', { queue, outcome: 'ack' }) === 1,
    );
    const handling = [...lines, ...deep.lines].filter((l) => l.msg !== 'consuming');
    expect(handling.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['handling', 'handler failed; will retry', 'deep inside the handler']),
    );
    for (const line of handling)
      expect(line, String(line.msg)).toMatchObject({ messageId: env.id, correlationId: '4123456789' });
    expect(deep.lines.map((l) => l.step)).toEqual([1, 2]);
    // Outside a delivery, nothing is added.
    deep.logger.info('after');
    expect(deep.lines.at(-1)).not.toHaveProperty('correlationId');
  });

  it('sends a poison (non-JSON) message straight to the DLQ, handler not called; purge empties it', async () => {
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
    await publishRaw(
      exchange,
      'payment.succeeded',
      Buffer.from(JSON.stringify({ id: 'no-type', data: {} })),
      'poison-2',
    );
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
    // Sessions of this database blocked on a lock while inserting into the inbox.
    const inboxWaiters = async () => {
      const rows = await db.prisma.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = ${db.name} AND wait_event_type = 'Lock' AND position('inbox' IN query) > 0`;
      return rows[0]!.n;
    };
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: '#' }],
      logger: testLogger,
      prefetch: 10,
      handler: async (env) => {
        const outcome = await db.prisma.$transaction(async (tx) => {
          if (!(await recordInbox(tx, 'payment', env))) return 'duplicate';
          // The first copy holds its inbox row until the four others wait on it: they overlap for sure.
          await waitFor('the four other copies waiting on the inbox row', async () => (await inboxWaiters()) === 4);
          // The state change: here one outbox row per processed message.
          await tx.$executeRawUnsafe(
            `INSERT INTO payment.outbox (id, exchange, routing_key, payload)
             VALUES (gen_random_uuid(), 'effects', $1, '{}'::jsonb)`,
            env.id,
          );
          return 'processed';
        });
        outcomes.push(outcome);
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    const env = envelope();
    await Promise.all(
      Array.from({ length: 5 }, () =>
        publishRaw(exchange, 'payment.succeeded', Buffer.from(JSON.stringify(env)), env.id),
      ),
    );
    await waitFor('all deliveries handled', () => outcomes.length === 5);
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(4);
    const effects = await db.prisma.$queryRawUnsafe<{ n: bigint }[]>(
      `SELECT count(*)::bigint AS n FROM payment.outbox WHERE routing_key = $1`,
      env.id,
    );
    expect(Number(effects[0]!.n)).toBe(1);
    const inbox = await db.prisma.paymentInbox.findMany({ where: { messageId: env.id } });
    expect(inbox.map((r) => r.type)).toEqual(['payment.succeeded']);
    expect(await queueCount(dlqName(queue))).toBe(0);
  });
});
