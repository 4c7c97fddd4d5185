import { Redis } from 'ioredis';

export type { Redis };

/**
 * A Redis client that fails fast instead of queueing: Redis is an accelerator here (locks,
 * rate limits, idempotency fast path), so a dead Redis must cost milliseconds, not hang requests.
 */
export function createRedis(url: string, opts: { commandTimeoutMs?: number; name?: string } = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs ?? 250,
    connectTimeout: 1000,
    connectionName: opts.name,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    // Under a rush thousands of requests each send a few commands: those issued in the same tick
    // go out in one write (one syscall, one round trip) instead of one each.
    enableAutoPipelining: true,
  });
  // Errors surface on commands; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

export async function redisReady(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * A Lua script run with EVALSHA (ioredis `defineCommand`: the body is sent once per connection,
 * then only its hash; EVAL again if the server lost it). `call(redis, keys, args)`.
 */
export function redisScript<T>(name: string, lua: string) {
  const defined = new WeakSet<Redis>();
  return (redis: Redis, keys: string[], args: (string | number)[]): Promise<T> => {
    if (!defined.has(redis)) {
      redis.defineCommand(name, { lua });
      defined.add(redis);
    }
    const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<T>>)[name]!;
    return command.call(redis, keys.length, ...keys, ...args);
  };
}
