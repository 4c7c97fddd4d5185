// Consumers with manual ack: a failing message goes through the retry queue (a per-message TTL)
// into the DLQ; poison goes to the DLQ at once.
import { SpanKind, trace } from '@opentelemetry/api';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { addLogFields, runInLogScope } from '../logger.ts';
import { counter, scrapedGauges } from '../telemetry.ts';
import { extractTraceContext, failSpan, inSpan, tracingEnabled } from '../tracing.ts';
import type { AmqpConnection } from './connection.ts';
import { parseEnvelope, type Envelope } from './envelope.ts';
import { declareQueue, dlqName, retryQueueName, type Binding, type QueueType } from './topology.ts';

/** Thrown by a handler for a message no retry can fix: it goes to the DLQ at once. */
export class DeadLetterError extends Error {
  override name = 'DeadLetterError';
}

const consumerDeliveries = counter({
  name: 'tatkal_consumer_deliveries_total',
  help:
    'Messages a consumer finished with, by queue and outcome: ack (handled), retry (to the retry queue), ' +
    'dead_lettered (to the DLQ), requeued (could not be moved; given back)',
  labelNames: ['queue', 'outcome'],
});

const queueGauges = scrapedGauges({
  depth: {
    name: 'tatkal_queue_depth_messages',
    help: 'Messages ready in a consumed queue (read from the broker at scrape time; absent while it is unreachable)',
    labelNames: ['queue'],
  },
  retry: {
    name: 'tatkal_queue_retry_messages',
    help: "Messages waiting out a retry back-off in a consumed queue's retry queue",
    labelNames: ['queue'],
  },
  dlq: {
    name: 'tatkal_queue_dlq_messages',
    help: "Messages in a consumed queue's dead-letter queue (they need an operator: scripts/dlq.ts)",
    labelNames: ['queue'],
  },
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
async function queueCounts(
  connection: AmqpConnection,
  queue: string,
): Promise<{ depth: number; retry: number; dlq: number } | undefined> {
  const model = connection.current();
  if (!model) return undefined;
  const ch = await checkChannel(model);
  const depth = (await ch.checkQueue(queue)).messageCount;
  const retry = (await ch.checkQueue(retryQueueName(queue))).messageCount;
  const dlq = (await ch.checkQueue(dlqName(queue))).messageCount;
  return { depth, retry, dlq };
}
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

/** The headers a message keeps when moved to the retry queue or the DLQ, or replayed from it. */
export const retryableHeaders = (headers: Record<string, unknown> | undefined) => {
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

  const moveTo = async (
    target: string,
    msg: ConsumeMessage,
    headers: Record<string, unknown>,
    expirationMs?: number,
  ) => {
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

  const delivered = (outcome: 'ack' | 'retry' | 'dead_lettered' | 'requeued') => {
    consumerDeliveries.inc({ queue, outcome });
    trace.getActiveSpan()?.setAttribute('tatkal.consumer.outcome', outcome);
  };

  // Every log line of one delivery's handling (the handler's, the code it calls) carries the
  // message id and, once the envelope is read, its correlation id (the PNR for reservation events).
  const handle = (ch: Channel, msg: ConsumeMessage) =>
    runInLogScope({ messageId: msg.properties.messageId, correlationId: msg.properties.correlationId }, () =>
      tracingEnabled() ? handleInSpan(ch, msg) : handleInScope(ch, msg),
    );

  // With tracing on: a CONSUMER span, child of the publish that the message's W3C headers name
  // (the outbox relay's), so the handler's queries and the events it writes continue that trace.
  const handleInSpan = (ch: Channel, msg: ConsumeMessage) => {
    const headers = msg.properties.headers ?? {};
    const attributes = {
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': String(headers[MessageHeaders.originalExchange] ?? msg.fields.exchange),
      'messaging.rabbitmq.destination.routing_key': String(
        headers[MessageHeaders.originalRoutingKey] ?? msg.fields.routingKey,
      ),
      'messaging.consumer.group.name': queue,
      'messaging.message.id': msg.properties.messageId as string | undefined,
      'tatkal.consumer.attempt': Number(headers[MessageHeaders.attempts] ?? 0) + 1,
    };
    const parent = extractTraceContext(headers);
    return inSpan(`process ${queue}`, { kind: SpanKind.CONSUMER, attributes, parent }, () => handleInScope(ch, msg));
  };

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
        await moveTo(dlqName(queue), msg, {
          [MessageHeaders.deadLetterReason]: 'poison',
          [MessageHeaders.lastError]: (err as Error).message.slice(0, 500),
          [MessageHeaders.failedAt]: new Date().toISOString(),
        });
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
        failSpan(trace.getActiveSpan(), err);
        const error = ((err as Error)?.message ?? String(err)).slice(0, 500);
        const common = {
          [MessageHeaders.attempts]: attempt,
          [MessageHeaders.lastError]: error,
          [MessageHeaders.failedAt]: new Date().toISOString(),
        };
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
    return {
      depth: [{ labels, value: counts.depth }],
      retry: [{ labels, value: counts.retry }],
      dlq: [{ labels, value: counts.dlq }],
    };
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
