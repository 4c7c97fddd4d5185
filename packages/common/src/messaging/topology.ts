// Exchange and queue names, and their declaration: the whole event topology of this system, the
// retry queue and DLQ beside every consumed queue, and the `.unrouted` queue behind every exchange.
import type { Channel, ChannelModel } from 'amqplib';
import type { AmqpConnection } from './connection.ts';

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
      bookingPaymentEvents: {
        queue: `${prefix}booking.payment-events`,
        bindings: [{ exchange: payments, pattern: 'payment.*' }],
      } satisfies QueueSpec,
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
  await ch.assertQueue(unrouted, {
    durable: true,
    arguments: { 'x-message-ttl': 7 * 24 * 3_600_000, 'x-max-length': 1_000_000 },
  });
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
export function registerTopology(
  connection: AmqpConnection,
  topology: { exchanges: string[]; queues: QueueSpec[]; queueType?: QueueType },
): () => void {
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
export async function deleteEventTopology(
  model: ChannelModel,
  prefix: string,
  extraQueues: string[] = [],
): Promise<void> {
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
