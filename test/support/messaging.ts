// What the messaging integration tests share: a database, an admin connection and the process's
// connection to the real RabbitMQ, and the exchanges, queues, relays and consumers a file made,
// removed after each test or the file. Every name carries a unique prefix, so files and runs never
// collide. A file calls `useMessagingBroker(label)` once; the bindings below are its own.
import { randomBytes } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  createAmqpConnection,
  express,
  instrumentHttp,
  listen,
  type AmqpConnection,
  type HttpServer,
} from '@tatkal/common';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { AMQP_URL } from './env.ts';
import { testLogger } from './logger.ts';
import { scrape } from './metrics.ts';

export const prefix = `t${randomBytes(4).toString('hex')}_`;
export let db: TestDatabase;
export let admin: ChannelModel;
export let connection: AmqpConnection;
export const exchanges = new Set<string>();
export const queues = new Set<string>();
/** Stops what a test started (relays, consumers, connections), last first, after the test. */
export const cleanups: (() => Promise<unknown>)[] = [];
// This process's /metrics, as Prometheus scrapes the services that run the relay and consumers.
let metricsServer: HttpServer;
export const metrics = () => scrape(metricsServer.url);

export function useMessagingBroker(label: string): void {
  beforeAll(async () => {
    db = await createTestDatabase(label);
    admin = await amqp.connect(AMQP_URL);
    connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: label });
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
}

export async function queueCount(queue: string): Promise<number> {
  const ch = await admin.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

export async function getMessage(queue: string) {
  const ch = await admin.createChannel();
  try {
    const msg = await ch.get(queue, { noAck: true });
    return msg || null;
  } finally {
    await ch.close();
  }
}
