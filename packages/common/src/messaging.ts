// Reliable events over RabbitMQ (docs/events.md): one connection per process that reconnects by
// itself, a transactional-outbox relay publishing with publisher confirms, consumers with manual
// ack, delayed retries through a TTL queue and a dead-letter queue, and the DLQ operator tools.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import type { Logger } from 'pino';
import { z } from 'zod';
import { addLogFields, runInLogScope } from './logger.ts';
import { counter, scrapedGauges } from './telemetry.ts';

// ───────────────────────────── envelope ─────────────────────────────

/** What every event carries; `id` is the outbox row id and the AMQP messageId (the inbox key). */
export interface Envelope<D = Record<string, unknown>> {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  correlationId: string | null;
  data: D;
}

const envelopeSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  version: z.number().int().min(1),
  occurredAt: z.string().min(1),
  correlationId: z.string().nullable().optional(),
  data: z.record(z.string(), z.unknown()),
});

export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

/** Parses a message body; anything that is not a well-formed envelope is poison (no retry helps). */
export function parseEnvelope(content: Buffer): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new PoisonMessageError(`body is not JSON: ${(err as Error).message}`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PoisonMessageError(`not an event envelope: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { ...parsed.data, correlationId: parsed.data.correlationId ?? null };
}

// ───────────────────────────── names and topology ─────────────────────────────

export interface Binding {
  exchange: string;
  pattern: string;
}

export interface QueueSpec {
  queue: string;
  bindings: Binding[];
}

export const retryQueueName = (queue: string) => `${queue}.retry`;
export const dlqName = (queue: string) => `${queue}.dlq`;
/** Events nobody is bound to land here through the exchange's alternate exchange. */
export const unroutedName = (exchange: string) => `${exchange}.unrouted`;

/**
 * This system's event topology. `prefix` keeps tests (and several environments on one broker)
 * apart; production uses ''. Both services declare all of it, so an event is routable to its
 * consumer's queue even before that consumer has ever started.
 */
export function eventTopology(prefix = '') {
  const payments = `${prefix}payments`;
  const booking = `${prefix}booking`;
  return {
    exchanges: { payments, booking },
    /** Outbox rows name the logical exchange ('payments', 'booking'); this maps it. */
    exchangeName: (logical: string) => `${prefix}${logical}`,
    queues: {
      bookingPaymentEvents: { queue: `${prefix}booking.payment-events`, bindings: [{ exchange: payments, pattern: 'payment.*' }] } satisfies QueueSpec,
      paymentBookingEvents: {
        queue: `${prefix}payment.booking-events`,
        bindings: [
          { exchange: booking, pattern: 'reservation.cancelled' },
          { exchange: booking, pattern: 'reservation.refund_required' },
        ],
      } satisfies QueueSpec,
    },
  };
}
export type EventTopology = ReturnType<typeof eventTopology>;

export type QueueType = 'quorum' | 'classic';

/** A durable topic exchange whose unroutable messages go to `<exchange>.unrouted` (kept 7 days). */
export async function declareExchange(ch: Channel, exchange: string): Promise<void> {
  const unrouted = unroutedName(exchange);
  await ch.assertExchange(unrouted, 'fanout', { durable: true });
  await ch.assertQueue(unrouted, { durable: true, arguments: { 'x-message-ttl': 7 * 24 * 3_600_000, 'x-max-length': 1_000_000 } });
  await ch.bindQueue(unrouted, unrouted, '');
  await ch.assertExchange(exchange, 'topic', { durable: true, alternateExchange: unrouted });
}

/**
 * The consumer's queue (quorum by default), its retry queue (no consumers: a message waits its
 * per-message TTL, then is dead-lettered back to the main queue) and its DLQ.
 */
export async function declareQueue(ch: Channel, spec: QueueSpec, queueType: QueueType = 'quorum'): Promise<void> {
  const typeArg = { 'x-queue-type': queueType };
  await ch.assertQueue(spec.queue, { durable: true, arguments: typeArg });
  await ch.assertQueue(retryQueueName(spec.queue), {
    durable: true,
    arguments: { 'x-queue-type': 'classic', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': spec.queue },
  });
  await ch.assertQueue(dlqName(spec.queue), { durable: true, arguments: typeArg });
  for (const b of spec.bindings) await ch.bindQueue(spec.queue, b.exchange, b.pattern);
}

/** Declares exchanges and queues on every (re)connect of `connection`. */
export function registerTopology(connection: AmqpConnection, topology: { exchanges: string[]; queues: QueueSpec[]; queueType?: QueueType }): () => void {
  return connection.onConnect(async (model) => {
    const ch = await model.createChannel();
    try {
      for (const e of topology.exchanges) await declareExchange(ch, e);
      for (const q of topology.queues) await declareQueue(ch, q, topology.queueType);
    } finally {
      await ch.close().catch(() => {});
    }
  });
}

/** Both services call this: the whole topology of `eventTopology(prefix)`. */
export function registerEventTopology(connection: AmqpConnection, prefix = ''): () => void {
  const t = eventTopology(prefix);
  return registerTopology(connection, { exchanges: Object.values(t.exchanges), queues: Object.values(t.queues) });
}

/**
 * Removes every exchange and queue of `eventTopology(prefix)`, plus `extraQueues` (unprefixed
 * names of other consumers' queues, with their retry queue and DLQ): for tests and throw-away
 * environments.
 */
export async function deleteEventTopology(model: ChannelModel, prefix: string, extraQueues: string[] = []): Promise<void> {
  if (!prefix) throw new Error('refusing to delete the unprefixed (production) topology');
  const t = eventTopology(prefix);
  const ch = await model.createChannel();
  // A missing queue or exchange closes the channel: open a fresh one for each step.
  let current = ch;
  const step = async (fn: (c: Channel) => Promise<unknown>) => {
    try {
      await fn(current);
    } catch {
      current = await model.createChannel();
    }
  };
  for (const queue of [...Object.values(t.queues).map((q) => q.queue), ...extraQueues.map((q) => `${prefix}${q}`)]) {
    for (const q of [queue, retryQueueName(queue), dlqName(queue)]) await step((c) => c.deleteQueue(q));
  }
  for (const e of Object.values(t.exchanges)) {
    await step((c) => c.deleteQueue(unroutedName(e)));
    await step((c) => c.deleteExchange(unroutedName(e)));
    await step((c) => c.deleteExchange(e));
  }
  await current.close().catch(() => {});
}

// ───────────────────────────── metrics ─────────────────────────────

const messagesPublished = counter({
  name: 'tatkal_messages_published_total',
  help: "Messages published with publisher confirms, by exchange ('default' for queue moves) and the broker's answer: confirmed, returned (unroutable) or failed (nack, time-out, channel lost)",
  labelNames: ['exchange', 'outcome'],
});

const consumerDeliveries = counter({
  name: 'tatkal_consumer_deliveries_total',
  help: 'Messages a consumer finished with, by queue and outcome: ack (handled), retry (to the retry queue), dead_lettered (to the DLQ), requeued (could not be moved; given back)',
  labelNames: ['queue', 'outcome'],
});

const outboxGauges = scrapedGauges({
  unpublished: { name: 'tatkal_outbox_unpublished_rows', help: 'Outbox rows not yet confirmed by the broker, by outbox table (read at scrape time)', labelNames: ['table'] },
  oldestAge: {
    name: 'tatkal_outbox_oldest_unpublished_age_seconds',
    help: 'Age of the oldest unpublished outbox row (0 when none): how far event publishing lags, by outbox table (read at scrape time)',
    labelNames: ['table'],
  },
});

const queueGauges = scrapedGauges({
  depth: { name: 'tatkal_queue_depth_messages', help: 'Messages ready in a consumed queue (read from the broker at scrape time; absent while it is unreachable)', labelNames: ['queue'] },
  retry: { name: 'tatkal_queue_retry_messages', help: "Messages waiting out a retry back-off in a consumed queue's retry queue", labelNames: ['queue'] },
  dlq: { name: 'tatkal_queue_dlq_messages', help: "Messages in a consumed queue's dead-letter queue (they need an operator: scripts/dlq.ts)", labelNames: ['queue'] },
});

// Scrape-time queue checks use a channel of their own per connection: a passive declare of a
// missing queue closes its channel, which must never be the publisher's or a consumer's.
const checkChannels = new WeakMap<ChannelModel, Promise<Channel>>();
function checkChannel(model: ChannelModel): Promise<Channel> {
  let ch = checkChannels.get(model);
  if (!ch) {
    const created = model.createChannel().then((c) => {
      c.on('error', () => {});
      c.on('close', () => {
        if (checkChannels.get(model) === created) checkChannels.delete(model);
      });
      return c;
    });
    created.catch(() => checkChannels.delete(model));
    checkChannels.set(model, created);
    ch = created;
  }
  return ch;
}

/** Message counts of a queue, its retry queue and its DLQ; undefined while not connected. */
async function queueCounts(connection: AmqpConnection, queue: string): Promise<{ depth: number; retry: number; dlq: number } | undefined> {
  const model = connection.current();
  if (!model) return undefined;
  const ch = await checkChannel(model);
  const depth = (await ch.checkQueue(queue)).messageCount;
  const retry = (await ch.checkQueue(retryQueueName(queue))).messageCount;
  const dlq = (await ch.checkQueue(dlqName(queue))).messageCount;
  return { depth, retry, dlq };
}

// ───────────────────────────── connection ─────────────────────────────

/** Thrown by a handler for a message no retry can fix: it goes to the DLQ at once. */
export class DeadLetterError extends Error {
  override name = 'DeadLetterError';
}

export class AmqpUnavailableError extends Error {
  override name = 'AmqpUnavailableError';
  constructor() {
    super('not connected to RabbitMQ');
  }
}

export type PublishOutcome = 'confirmed' | 'returned';

export interface AmqpConnection {
  readonly name: string;
  isConnected(): boolean;
  /** The current connection, or null while (re)connecting. */
  current(): ChannelModel | null;
  /** Resolves once connected (at once if connected); rejects after `timeoutMs`. */
  waitForConnection(timeoutMs?: number): Promise<void>;
  /** Runs `setup` now if connected and after every reconnect; returns an unsubscribe. */
  onConnect(setup: (model: ChannelModel) => Promise<void>): () => void;
  /**
   * Publishes on the process's confirm channel and waits for the broker: 'confirmed' (acked and
   * routed), 'returned' (mandatory and unroutable). Rejects on nack, channel loss or time-out.
   */
  publish(exchange: string, routingKey: string, content: Buffer, options?: Options.Publish): Promise<PublishOutcome>;
  close(): Promise<void>;
}

export interface AmqpConnectionOptions {
  url: string;
  logger: Logger;
  /** Shown in the RabbitMQ management UI. */
  name: string;
  minDelayMs?: number;
  maxDelayMs?: number;
  confirmTimeoutMs?: number;
  heartbeatSeconds?: number;
}

const redact = (url: string) => {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
};

/**
 * One AMQP connection per process. Starts connecting at once and never gives up: exponential
 * back-off with jitter, and again after the broker restarts or the socket drops. Callers that
 * need channels register `onConnect` setups, which run again after every reconnect.
 */
export function createAmqpConnection(opts: AmqpConnectionOptions): AmqpConnection {
  const { logger, name } = opts;
  const minDelay = opts.minDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 15_000;
  const confirmTimeoutMs = opts.confirmTimeoutMs ?? 15_000;
  const url = new URL(opts.url);
  // A dead peer is noticed within ~2 heartbeats instead of the broker's default 60 s.
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(opts.heartbeatSeconds ?? 10));
  const log = logger.child({ component: 'amqp', connection: name });
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const setups = new Set<(model: ChannelModel) => Promise<void>>();
  let model: ChannelModel | null = null;
  // `model` once every setup (topology, consumers) has run on it: what callers see as connected.
  let live: ChannelModel | null = null;
  let publisher: Promise<ConfirmChannel> | null = null;
  const returned = new Set<string>();
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let everConnected = false;
  let lateSetups: Promise<void> = Promise.resolve();

  const runSetup = async (m: ChannelModel, setup: (model: ChannelModel) => Promise<void>) => {
    try {
      await setup(m);
    } catch (err) {
      log.error({ err }, 'AMQP setup after connect failed');
    }
  };

  const schedule = () => {
    if (closing || timer) return;
    const base = Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 16));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    timer = setTimeout(() => {
      timer = undefined;
      void attempt();
    }, delay);
  };

  const attempt = async () => {
    if (closing) return;
    let m: ChannelModel;
    try {
      m = await amqp.connect(url.toString(), { timeout: 5_000, clientProperties: { connection_name: name } });
    } catch (err) {
      failures++;
      // Loud once, then quieter: a broker that stays down should not flood the log.
      if (failures === 1 || failures % 20 === 0) log.warn({ err: (err as Error).message, url: redact(opts.url), failures }, 'RabbitMQ unreachable; retrying');
      schedule();
      return;
    }
    if (closing) {
      await m.close().catch(() => {});
      return;
    }
    model = m;
    failures = 0;
    m.on('error', (err: Error) => log.warn({ err: err.message }, 'AMQP connection error'));
    m.on('blocked', (reason: string) => log.warn({ reason }, 'RabbitMQ blocked this connection'));
    m.on('unblocked', () => log.info('RabbitMQ unblocked this connection'));
    m.on('close', () => {
      if (model !== m) return;
      model = null;
      live = null;
      publisher = null;
      if (closing) return;
      log.warn('RabbitMQ connection lost; reconnecting');
      events.emit('disconnect');
      schedule();
    });
    log.info({ url: redact(opts.url) }, everConnected ? 'reconnected to RabbitMQ' : 'connected to RabbitMQ');
    everConnected = true;
    for (const setup of setups) await runSetup(m, setup);
    if (model === m) {
      live = m;
      events.emit('connect');
    }
  };

  const getPublisher = (): Promise<ConfirmChannel> => {
    const m = model;
    if (!m) return Promise.reject(new AmqpUnavailableError());
    if (!publisher) {
      const p = m.createConfirmChannel().then((ch) => {
        ch.on('error', (err: Error) => log.warn({ err: err.message }, 'publish channel error'));
        ch.on('close', () => {
          if (publisher === p) publisher = null;
        });
        ch.on('return', (msg) => {
          const id = msg.properties.headers?.['x-publish-id'];
          if (typeof id === 'string') returned.add(id);
          log.warn({ exchange: msg.fields.exchange, routingKey: msg.fields.routingKey, messageId: msg.properties.messageId }, 'broker returned an unroutable message');
        });
        return ch;
      });
      p.catch(() => {
        if (publisher === p) publisher = null;
      });
      publisher = p;
    }
    return publisher;
  };

  setImmediate(() => void attempt());

  return {
    name,
    isConnected: () => live !== null,
    current: () => live,
    waitForConnection(timeoutMs = 30_000) {
      if (live) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          events.off('connect', onConnect);
          reject(new Error(`RabbitMQ not connected within ${timeoutMs} ms`));
        }, timeoutMs);
        const onConnect = () => {
          clearTimeout(t);
          resolve();
        };
        events.once('connect', onConnect);
      });
    },
    onConnect(setup) {
      setups.add(setup);
      // In registration order, like on connect: a consumer's bindings need the topology first.
      const m = live;
      if (m) lateSetups = lateSetups.then(() => runSetup(m, setup));
      return () => setups.delete(setup);
    },
    async publish(exchange, routingKey, content, options = {}) {
      const counted = (outcome: PublishOutcome | 'failed') => messagesPublished.inc({ exchange: exchange || 'default', outcome });
      const ch = await getPublisher().catch((err: unknown) => {
        counted('failed');
        throw err;
      });
      const publishId = randomUUID();
      return new Promise<PublishOutcome>((resolve, reject) => {
        let settled = false;
        const t = setTimeout(() => {
          settled = true;
          returned.delete(publishId);
          counted('failed');
          reject(new Error(`no publisher confirm within ${confirmTimeoutMs} ms`));
        }, confirmTimeoutMs);
        try {
          ch.publish(exchange, routingKey, content, { ...options, headers: { ...options.headers, 'x-publish-id': publishId } }, (err) => {
            clearTimeout(t);
            // The broker sends basic.return before the ack of the same message.
            const wasReturned = returned.delete(publishId);
            if (settled) return;
            settled = true;
            const outcome = err ? 'failed' : wasReturned ? 'returned' : 'confirmed';
            counted(outcome);
            if (outcome === 'failed') reject(err instanceof Error ? err : new Error('broker nacked the message'));
            else resolve(outcome);
          });
        } catch (err) {
          clearTimeout(t);
          settled = true;
          counted('failed');
          reject(err);
        }
      });
    },
    async close() {
      closing = true;
      clearTimeout(timer);
      timer = undefined;
      const m = model;
      model = null;
      live = null;
      publisher = null;
      // A connection whose socket just died may never answer close-ok: do not hang shutdown on it.
      if (m) await Promise.race([m.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
      log.info('RabbitMQ connection closed');
    },
  };
}

// ───────────────────────────── outbox relay ─────────────────────────────

/** The raw-SQL part of a PrismaClient (or its transaction client) the relay and inbox need. */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}
export interface TransactionalSqlClient extends SqlClient {
  $transaction<R>(fn: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
}

export type OutboxTable = 'booking' | 'payment';
const outboxTables: Record<OutboxTable, string> = { booking: 'booking.outbox', payment: 'payment.outbox' };

export interface OutboxRelayOptions {
  prisma: TransactionalSqlClient;
  table: OutboxTable;
  connection: AmqpConnection;
  logger: Logger;
  intervalMs?: number;
  batch?: number;
  /** Maps a row's logical exchange to the broker's (a test or environment prefix). */
  exchangeName?: (exchange: string) => string;
  /** Back-off cap for a row the broker returned or nacked. */
  maxBackoffMs?: number;
}

interface OutboxRow {
  id: string;
  exchange: string;
  routing_key: string;
  payload: unknown;
  attempts: number;
}

const payloadOf = (row: OutboxRow) => (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>;
const correlationOf = (payload: Record<string, unknown>) => (typeof payload.correlationId === 'string' ? payload.correlationId : undefined);

/** Unpublished rows of an outbox table and the age of the oldest, for the lag gauges. */
export async function outboxLag(prisma: SqlClient, table: OutboxTable): Promise<{ unpublished: number; oldestAgeSeconds: number }> {
  const name = outboxTables[table];
  if (!name) throw new Error(`unknown outbox table ${String(table)}`);
  const rows = await prisma.$queryRawUnsafe<{ n: number; age: number }[]>(
    `SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age FROM ${name} WHERE published_at IS NULL`,
  );
  return { unpublished: Number(rows[0]?.n ?? 0), oldestAgeSeconds: Math.max(0, Number(rows[0]?.age ?? 0)) };
}

export interface OutboxRelay {
  /** Publishes what is pending now (one pass of batches); returns how many rows were published. */
  flush(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Publishes outbox rows: claims unpublished rows (FOR UPDATE SKIP LOCKED, so several instances
 * share the work), publishes each persistent + mandatory on the confirm channel, and sets
 * published_at only for rows the broker confirmed, in the same transaction that claimed them.
 * Returned or nacked rows get attempts + 1 and an in-process back-off. While RabbitMQ is away
 * nothing is claimed; rows wait and go out after the reconnect. At least once: a crash between
 * confirm and commit publishes a row again (consumers dedupe with their inbox).
 */
export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const table = outboxTables[opts.table];
  if (!table) throw new Error(`unknown outbox table ${String(opts.table)}`);
  const intervalMs = opts.intervalMs ?? 200;
  const batch = opts.batch ?? 100;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const exchangeName = opts.exchangeName ?? ((e: string) => e);
  const log = opts.logger.child({ component: 'outbox-relay', table });
  const backoff = new Map<string, number>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | null = null;
  let failingSince = 0;
  // Lag is read at scrape time (one indexed query), never on the publishing path.
  const removeLagSource = outboxGauges.addSource(async () => {
    const lag = await outboxLag(opts.prisma, opts.table);
    const labels = { table: opts.table };
    return { unpublished: [{ labels, value: lag.unpublished }], oldestAge: [{ labels, value: lag.oldestAgeSeconds }] };
  });

  const publishBatch = async (): Promise<{ claimed: number; published: number }> => {
    const now = Date.now();
    for (const [id, until] of backoff) if (until <= now) backoff.delete(id);
    const skip = [...backoff.keys()];
    return opts.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRawUnsafe<OutboxRow[]>(
          `SELECT id::text AS id, exchange, routing_key, payload, attempts FROM ${table}
           WHERE published_at IS NULL AND NOT (id = ANY($1::uuid[]))
           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          skip,
          batch,
        );
        if (rows.length === 0) return { claimed: 0, published: 0 };
        const outcomes = await Promise.allSettled(
          rows.map((row) => {
            const payload = payloadOf(row);
            const envelope = { id: row.id, ...payload };
            return opts.connection.publish(exchangeName(row.exchange), row.routing_key, Buffer.from(JSON.stringify(envelope)), {
              persistent: true,
              mandatory: true,
              messageId: row.id,
              correlationId: correlationOf(payload),
              type: typeof payload.type === 'string' ? payload.type : row.routing_key,
              contentType: 'application/json',
              timestamp: Math.floor(Date.now() / 1000),
            });
          }),
        );
        const published: string[] = [];
        const failed: { row: OutboxRow; reason: string }[] = [];
        outcomes.forEach((o, i) => {
          const row = rows[i]!;
          if (o.status === 'fulfilled' && o.value === 'confirmed') published.push(row.id);
          else failed.push({ row, reason: o.status === 'fulfilled' ? 'returned as unroutable' : String((o.reason as Error)?.message ?? o.reason) });
        });
        if (published.length) {
          await tx.$executeRawUnsafe(`UPDATE ${table} SET published_at = now() WHERE id = ANY($1::uuid[])`, published);
          if (log.isLevelEnabled('debug')) {
            for (const row of rows) if (published.includes(row.id)) log.debug({ outboxId: row.id, routingKey: row.routing_key, correlationId: correlationOf(payloadOf(row)) }, 'outbox row published');
          }
        }
        if (failed.length) {
          await tx.$executeRawUnsafe(`UPDATE ${table} SET attempts = attempts + 1 WHERE id = ANY($1::uuid[])`, failed.map((f) => f.row.id));
          for (const { row, reason } of failed) {
            const delay = Math.min(maxBackoffMs, 1_000 * 2 ** Math.min(row.attempts, 16));
            backoff.set(row.id, Date.now() + delay);
            log.warn(
              { outboxId: row.id, correlationId: correlationOf(payloadOf(row)), exchange: row.exchange, routingKey: row.routing_key, attempts: row.attempts + 1, retryInMs: delay, reason },
              'outbox row not published; will retry',
            );
          }
        }
        return { claimed: rows.length, published: published.length };
      },
      // The claim (row locks) is held while waiting for confirms.
      { maxWait: 5_000, timeout: 60_000 },
    );
  };

  const flushOnce = async (): Promise<number> => {
    let total = 0;
    while (!stopped && opts.connection.isConnected()) {
      const { claimed, published } = await publishBatch();
      total += published;
      if (claimed < batch) break;
    }
    return total;
  };

  const tick = async (): Promise<number> => {
    try {
      const n = await flushOnce();
      if (failingSince) log.info('outbox relay recovered');
      failingSince = 0;
      return n;
    } catch (err) {
      if (!failingSince) log.error({ err }, 'outbox relay pass failed; will retry');
      failingSince ||= Date.now();
      return 0;
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = null;
        schedule();
      });
    }, intervalMs);
  };
  schedule();

  return {
    async flush() {
      while (running) await running;
      return flushOnce();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      removeLagSource();
      await running;
    },
  };
}

// ───────────────────────────── inbox ─────────────────────────────

export type InboxTable = 'booking' | 'payment' | 'search';
const inboxTables: Record<InboxTable, string> = { booking: 'booking.inbox', payment: 'payment.inbox', search: 'search.inbox' };

/**
 * Records a consumed message id inside the caller's transaction. True the first time; false for
 * a duplicate (the caller then does nothing). A concurrent duplicate waits on the primary key
 * until the first transaction ends, so one of them commits the state change.
 */
export async function recordInbox(tx: SqlClient, table: InboxTable, envelope: Pick<Envelope, 'id' | 'type'>): Promise<boolean> {
  const name = inboxTables[table];
  const rows = await tx.$queryRawUnsafe<unknown[]>(`INSERT INTO ${name} (message_id, type) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING RETURNING message_id`, envelope.id, envelope.type);
  return rows.length === 1;
}

// ───────────────────────────── consumer ─────────────────────────────

export interface HandlerContext {
  routingKey: string;
  exchange: string;
  /** 1 on first delivery, n on the (n-1)th retry. */
  attempt: number;
  message: ConsumeMessage;
  logger: Logger;
}

export interface ConsumerOptions {
  connection: AmqpConnection;
  queue: string;
  bindings: Binding[];
  handler: (envelope: Envelope, ctx: HandlerContext) => Promise<void>;
  logger: Logger;
  prefetch?: number;
  /** Deliveries before a failing message goes to the DLQ. */
  maxAttempts?: number;
  /** Back-off before retry n is retryDelayMs * 2^(n-1), capped at maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  queueType?: QueueType;
}

export interface Consumer {
  /** Resolves when the consumer first subscribed. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export const MessageHeaders = {
  attempts: 'x-attempts',
  lastError: 'x-last-error',
  deadLetterReason: 'x-dead-letter-reason',
  originalExchange: 'x-original-exchange',
  originalRoutingKey: 'x-original-routing-key',
  failedAt: 'x-failed-at',
} as const;

const retryableHeaders = (headers: Record<string, unknown> | undefined) => {
  // x-death grows with every retry cycle and x-publish-id is per publish: not carried along.
  const { 'x-death': _death, 'x-publish-id': _pid, ...rest } = headers ?? {};
  return rest;
};

/**
 * Consumes `queue` with manual ack. Handler success: ack. Handler error: the message is
 * republished (confirmed) to the retry queue with attempts + 1 and a per-message TTL, or to the
 * DLQ after `maxAttempts`, then the original is acked. Poison (not an envelope): straight to the
 * DLQ. Re-subscribes after reconnects and channel failures.
 */
export function startConsumer(opts: ConsumerOptions): Consumer {
  const { connection, queue } = opts;
  const prefetch = opts.prefetch ?? 10;
  const maxAttempts = opts.maxAttempts ?? 5;
  const retryDelayMs = opts.retryDelayMs ?? 1_000;
  const maxRetryDelayMs = opts.maxRetryDelayMs ?? 60_000;
  const log = opts.logger.child({ component: 'consumer', queue });
  const inflight = new Set<Promise<void>>();
  let channel: Channel | null = null;
  let consumerTag: string | null = null;
  let stopped = false;
  let resubscribeTimer: NodeJS.Timeout | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const settle = (ch: Channel, msg: ConsumeMessage, how: 'ack' | 'requeue') => {
    try {
      if (how === 'ack') ch.ack(msg);
      else ch.nack(msg, false, true);
    } catch {
      // The channel is gone: the broker redelivers the message to the next subscriber.
    }
  };

  const moveTo = async (target: string, msg: ConsumeMessage, headers: Record<string, unknown>, expirationMs?: number) => {
    const p = msg.properties;
    const outcome = await connection.publish('', target, msg.content, {
      persistent: true,
      mandatory: true,
      messageId: p.messageId,
      correlationId: p.correlationId,
      type: p.type,
      contentType: p.contentType,
      timestamp: p.timestamp,
      expiration: expirationMs === undefined ? undefined : String(expirationMs),
      headers: {
        ...retryableHeaders(p.headers),
        [MessageHeaders.originalExchange]: p.headers?.[MessageHeaders.originalExchange] ?? msg.fields.exchange,
        [MessageHeaders.originalRoutingKey]: p.headers?.[MessageHeaders.originalRoutingKey] ?? msg.fields.routingKey,
        ...headers,
      },
    });
    if (outcome !== 'confirmed') throw new Error(`queue ${target} does not exist`);
  };

  const delivered = (outcome: 'ack' | 'retry' | 'dead_lettered' | 'requeued') => consumerDeliveries.inc({ queue, outcome });

  // Every log line of one delivery's handling (the handler's, the code it calls) carries the
  // message id and, once the envelope is read, its correlation id (the PNR for reservation events).
  const handle = (ch: Channel, msg: ConsumeMessage) =>
    runInLogScope({ messageId: msg.properties.messageId, correlationId: msg.properties.correlationId }, () => handleInScope(ch, msg));

  const handleInScope = async (ch: Channel, msg: ConsumeMessage) => {
    const headers = msg.properties.headers ?? {};
    const attempt = Number(headers[MessageHeaders.attempts] ?? 0) + 1;
    const routingKey = String(headers[MessageHeaders.originalRoutingKey] ?? msg.fields.routingKey);
    const exchange = String(headers[MessageHeaders.originalExchange] ?? msg.fields.exchange);
    const mlog = log.child({ messageId: msg.properties.messageId, routingKey, attempt });
    try {
      let envelope: Envelope;
      try {
        envelope = parseEnvelope(msg.content);
      } catch (err) {
        mlog.error({ err: (err as Error).message }, 'poison message; moved to the DLQ');
        await moveTo(dlqName(queue), msg, { [MessageHeaders.deadLetterReason]: 'poison', [MessageHeaders.lastError]: (err as Error).message.slice(0, 500), [MessageHeaders.failedAt]: new Date().toISOString() });
        settle(ch, msg, 'ack');
        delivered('dead_lettered');
        return;
      }
      addLogFields({ correlationId: envelope.correlationId });
      try {
        await opts.handler(envelope, { routingKey, exchange, attempt, message: msg, logger: mlog });
        settle(ch, msg, 'ack');
        delivered('ack');
      } catch (err) {
        const error = ((err as Error)?.message ?? String(err)).slice(0, 500);
        const common = { [MessageHeaders.attempts]: attempt, [MessageHeaders.lastError]: error, [MessageHeaders.failedAt]: new Date().toISOString() };
        let outcome: 'retry' | 'dead_lettered';
        if (err instanceof DeadLetterError) {
          mlog.error({ err }, 'handler rejected the message; moved to the DLQ');
          await moveTo(dlqName(queue), msg, { ...common, [MessageHeaders.deadLetterReason]: 'rejected' });
          outcome = 'dead_lettered';
        } else if (attempt >= maxAttempts) {
          mlog.error({ err }, `handler failed ${attempt} times; moved to the DLQ`);
          await moveTo(dlqName(queue), msg, { ...common, [MessageHeaders.deadLetterReason]: 'max-attempts' });
          outcome = 'dead_lettered';
        } else {
          const delay = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempt - 1));
          mlog.warn({ err, retryInMs: delay }, 'handler failed; will retry');
          await moveTo(retryQueueName(queue), msg, common, delay);
          outcome = 'retry';
        }
        settle(ch, msg, 'ack');
        delivered(outcome);
      }
    } catch (err) {
      // Could not park the message (publisher down): give it back after a pause, unchanged.
      mlog.error({ err }, 'could not move a failed message; requeueing it');
      await new Promise((r) => setTimeout(r, 1_000));
      settle(ch, msg, 'requeue');
      delivered('requeued');
    }
  };

  // Depth, retry backlog and DLQ size of this queue, asked of the broker at scrape time.
  const removeQueueSource = queueGauges.addSource(async () => {
    const counts = await queueCounts(connection, queue);
    if (!counts) return {};
    const labels = { queue };
    return { depth: [{ labels, value: counts.depth }], retry: [{ labels, value: counts.retry }], dlq: [{ labels, value: counts.dlq }] };
  });

  const retryLater = (model: ChannelModel) => {
    clearTimeout(resubscribeTimer);
    resubscribeTimer = setTimeout(() => {
      const m = connection.current();
      if (m && m === model && !stopped) subscribe(m).catch(() => {});
    }, 1_000);
  };

  const subscribe = async (model: ChannelModel): Promise<void> => {
    try {
      await subscribeOnce(model);
    } catch (err) {
      // E.g. the exchange is not declared yet: try again while this connection lives.
      log.error({ err: (err as Error).message }, 'could not subscribe; retrying');
      retryLater(model);
    }
  };

  const subscribeOnce = async (model: ChannelModel) => {
    if (stopped) return;
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => log.warn({ err: err.message }, 'consumer channel error'));
    ch.on('close', () => {
      if (channel !== ch) return;
      channel = null;
      consumerTag = null;
      // A channel closed while the connection lives (e.g. a channel error): subscribe again.
      if (!stopped && connection.current() === model) retryLater(model);
    });
    await declareQueue(ch, { queue, bindings: opts.bindings }, opts.queueType);
    await ch.prefetch(prefetch);
    channel = ch;
    const res = await ch.consume(
      queue,
      (msg) => {
        if (!msg) {
          log.warn('the broker cancelled this consumer; re-subscribing');
          void ch.close().catch(() => {});
          return;
        }
        const p: Promise<void> = handle(ch, msg).finally(() => inflight.delete(p));
        inflight.add(p);
      },
      { noAck: false },
    );
    consumerTag = res.consumerTag;
    log.info({ prefetch }, 'consuming');
    markReady();
  };

  const unsubscribe = connection.onConnect(subscribe);

  return {
    ready,
    async stop() {
      stopped = true;
      unsubscribe();
      removeQueueSource();
      clearTimeout(resubscribeTimer);
      const ch = channel;
      if (ch && consumerTag) await ch.cancel(consumerTag).catch(() => {});
      // Let handlers in flight finish and ack before the channel goes.
      await Promise.allSettled([...inflight]);
      channel = null;
      if (ch) await ch.close().catch(() => {});
    },
  };
}

// ───────────────────────────── DLQ tools ─────────────────────────────

export interface DlqMessage {
  messageId: string | undefined;
  type: string | undefined;
  correlationId: string | undefined;
  headers: Record<string, unknown>;
  body: string;
}

/** Accepts the main queue or its DLQ name. */
const toDlq = (queue: string) => (queue.endsWith('.dlq') ? queue : dlqName(queue));
const toMain = (queue: string) => (queue.endsWith('.dlq') ? queue.slice(0, -4) : queue);

/** Counts the DLQ and peeks at up to `n` messages; they stay in the queue (requeued on channel close). */
export async function inspectDlq(model: ChannelModel, queue: string, n = 10): Promise<{ queue: string; count: number; messages: DlqMessage[] }> {
  const dlq = toDlq(queue);
  const ch = await model.createChannel();
  try {
    const { messageCount } = await ch.checkQueue(dlq);
    const messages: DlqMessage[] = [];
    // A message another channel just put back (an earlier peek) may not be gettable for a moment.
    for (let misses = 0; messages.length < Math.min(n, messageCount) && misses < 40; ) {
      const msg = await ch.get(dlq, { noAck: false });
      if (!msg) {
        misses++;
        await new Promise((r) => setTimeout(r, 25));
        continue;
      }
      messages.push({
        messageId: msg.properties.messageId,
        type: msg.properties.type,
        correlationId: msg.properties.correlationId,
        headers: retryableHeaders(msg.properties.headers),
        body: msg.content.toString('utf8').slice(0, 4_000),
      });
    }
    // Put every peeked message back before answering, and wait for the broker to have done it:
    // the passive declare on this same channel is answered only after the nack was processed, so
    // a peek that follows this one sees the messages (closing the channel alone requeues later).
    ch.nackAll(true);
    await ch.checkQueue(dlq);
    return { queue: dlq, count: messageCount, messages };
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * Moves up to `n` messages (all that were there when it started, for 'all') from the DLQ back to
 * the main queue with a fresh attempt count. Each is acked only after the broker confirmed its copy.
 */
export async function replayDlq(model: ChannelModel, queue: string, n: number | 'all' = 'all'): Promise<number> {
  const dlq = toDlq(queue);
  const main = toMain(queue);
  const ch = await model.createConfirmChannel();
  try {
    await ch.checkQueue(main);
    const { messageCount } = await ch.checkQueue(dlq);
    const limit = n === 'all' ? messageCount : Math.min(n, messageCount);
    let moved = 0;
    for (; moved < limit; moved++) {
      const msg = await ch.get(dlq, { noAck: false });
      if (!msg) break;
      const p = msg.properties;
      const { [MessageHeaders.attempts]: _a, [MessageHeaders.deadLetterReason]: _r, ...headers } = retryableHeaders(p.headers);
      ch.publish('', main, msg.content, {
        persistent: true,
        messageId: p.messageId,
        correlationId: p.correlationId,
        type: p.type,
        contentType: p.contentType,
        timestamp: p.timestamp,
        headers: { ...headers, 'x-replayed-at': new Date().toISOString(), 'x-replay-count': Number(headers['x-replay-count'] ?? 0) + 1 },
      });
      await ch.waitForConfirms();
      ch.ack(msg);
    }
    return moved;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Deletes every message in the DLQ; returns how many. */
export async function purgeDlq(model: ChannelModel, queue: string): Promise<number> {
  const ch = await model.createChannel();
  try {
    const { messageCount } = await ch.purgeQueue(toDlq(queue));
    return messageCount;
  } finally {
    await ch.close().catch(() => {});
  }
}
