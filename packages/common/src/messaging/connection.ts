// One AMQP connection per process that reconnects by itself, and its confirm channel for
// publishing.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import type { Logger } from 'pino';
import { counter } from '../telemetry.ts';

const messagesPublished = counter({
  name: 'tatkal_messages_published_total',
  help:
    "Messages published with publisher confirms, by exchange ('default' for queue moves) and the broker's answer: " +
    'confirmed, returned (unroutable) or failed (nack, time-out, channel lost)',
  labelNames: ['exchange', 'outcome'],
});

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
      if (failures === 1 || failures % 20 === 0)
        log.warn({ err: (err as Error).message, url: redact(opts.url), failures }, 'RabbitMQ unreachable; retrying');
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
          log.warn(
            { exchange: msg.fields.exchange, routingKey: msg.fields.routingKey, messageId: msg.properties.messageId },
            'broker returned an unroutable message',
          );
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
      const counted = (outcome: PublishOutcome | 'failed') =>
        messagesPublished.inc({ exchange: exchange || 'default', outcome });
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
          ch.publish(
            exchange,
            routingKey,
            content,
            { ...options, headers: { ...options.headers, 'x-publish-id': publishId } },
            (err) => {
              clearTimeout(t);
              // The broker sends basic.return before the ack of the same message.
              const wasReturned = returned.delete(publishId);
              if (settled) return;
              settled = true;
              const outcome = err ? 'failed' : wasReturned ? 'returned' : 'confirmed';
              counted(outcome);
              if (outcome === 'failed') reject(err instanceof Error ? err : new Error('broker nacked the message'));
              else resolve(outcome);
            },
          );
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
