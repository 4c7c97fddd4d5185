import { Redis } from 'ioredis';
import { counter } from './telemetry.ts';

export type { Redis };

/** Every script made by `redisScript`, defined on each client `createRedis` makes. */
const scripts = new Map<string, string>();

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
  for (const [name, lua] of scripts) client.defineCommand(name, { lua });
  countCommandsSent(client);
  // Errors surface on commands; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

/**
 * Commands this process sends, by name (pipelined ones too: a pipeline sends through the client's
 * `sendCommand`). Redis's own counters also count what runs inside scripts; this is what the
 * processes ask of it, round trips folded or not.
 */
function countCommandsSent(client: Redis): void {
  const sent = counter<'command'>({
    name: 'tatkal_redis_commands_sent_total',
    help: 'Redis commands sent by this process (a script is one), by command',
    labelNames: ['command'],
  });
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    sent.inc({ command: command.name });
    return send(command, stream);
  };
}

export async function redisReady(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) for a Redis client to connect: the clients have no offline queue, so limits
 * checked before the connection is up would fail open. Never throws: Redis down at start-up
 * just means no limits until it comes back.
 */
export async function waitForRedis(redis: Redis, timeoutMs = 1000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.once('ready', onReady);
  });
}

/**
 * A Lua script run with EVALSHA (ioredis `defineCommand`: the body is sent once per connection,
 * then only its hash; EVAL again if the server lost it). `call(redis, keys, args)`.
 *
 * Made at module load, so `createRedis` defines it on every client before any command runs:
 * defining a command later, while an auto-pipeline is queued, misaligns ioredis's replies and
 * crashes the process (redis/ioredis#1931). A client made elsewhere gets plain EVAL.
 */
export function redisScript<T>(name: string, lua: string) {
  scripts.set(name, lua);
  return (redis: Redis, keys: string[], args: (string | number)[]): Promise<T> => {
    const command = (redis as unknown as Record<string, ((...a: (string | number)[]) => Promise<T>) | undefined>)[name];
    return command
      ? command.call(redis, keys.length, ...keys, ...args)
      : (redis.eval(lua, keys.length, ...keys, ...args) as Promise<T>);
  };
}
