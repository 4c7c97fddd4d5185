// The operator's DLQ tools (scripts/dlq.ts): inspect, replay to the main queue, purge.
import type { ChannelModel } from 'amqplib';
import { MessageHeaders, retryableHeaders } from './consumer.ts';
import { dlqName } from './topology.ts';

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
export async function inspectDlq(
  model: ChannelModel,
  queue: string,
  n = 10,
): Promise<{ queue: string; count: number; messages: DlqMessage[] }> {
  const dlq = toDlq(queue);
  const ch = await model.createChannel();
  try {
    const { messageCount } = await ch.checkQueue(dlq);
    const messages: DlqMessage[] = [];
    // A message another channel just put back (an earlier peek) may not be gettable for a moment,
    // longer on a busy broker: keep trying for up to 5 s while the count says it is there.
    for (let misses = 0; messages.length < Math.min(n, messageCount) && misses < 200; ) {
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
      const {
        [MessageHeaders.attempts]: _a,
        [MessageHeaders.deadLetterReason]: _r,
        ...headers
      } = retryableHeaders(p.headers);
      ch.publish('', main, msg.content, {
        persistent: true,
        messageId: p.messageId,
        correlationId: p.correlationId,
        type: p.type,
        contentType: p.contentType,
        timestamp: p.timestamp,
        headers: {
          ...headers,
          'x-replayed-at': new Date().toISOString(),
          'x-replay-count': Number(headers['x-replay-count'] ?? 0) + 1,
        },
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
