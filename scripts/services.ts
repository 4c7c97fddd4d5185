// Checks that PostgreSQL, Redis and RabbitMQ answer; says in one line how to start one that does not.
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';

export const START_COMMANDS = {
  PostgreSQL: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  Redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no ' +
    '--dir /var/lib/redis --logfile /var/log/redis/ci.log',
  RabbitMQ: 'rabbitmq-server -detached',
} as const;

async function answers(name: keyof typeof START_COMMANDS, url: string): Promise<string | null> {
  try {
    if (name === 'PostgreSQL') {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
      await client.connect();
      await client.end();
    } else if (name === 'Redis') {
      const redis = new Redis(url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        connectTimeout: 3000,
        retryStrategy: () => null,
      });
      redis.on('error', () => {});
      await redis.connect();
      await redis.ping();
      redis.disconnect();
    } else {
      const conn = await amqp.connect(url, { timeout: 3000 });
      await conn.close();
    }
    return null;
  } catch (err) {
    const reason = (err as Error).message || 'no answer';
    return `${name} does not answer at ${new URL(url).host} (${reason}); start it with: ${START_COMMANDS[name]}`;
  }
}

/** Returns one line per service that is down (empty when all answer). */
export async function checkServices(urls: { postgres: string; redis: string; amqp: string }): Promise<string[]> {
  const results = await Promise.all([
    answers('PostgreSQL', urls.postgres),
    answers('Redis', urls.redis),
    answers('RabbitMQ', urls.amqp),
  ]);
  return results.filter((r): r is string => r !== null);
}
