// Redis as the benchmarks read it: server-wide command counters, and the clients of other
// programs that were busy meanwhile (their work is in the counters too).
import { createRedis, type Redis } from '@tatkal/common';
import { localPortsOf } from '../packages/testkit/src/processes.ts';

export interface RedisCounters {
  total: number;
  byCommand: Record<string, number>;
}

/** A Redis client for the bench's own readings, connected before it returns (createRedis queues nothing). */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = createRedis(url, { name: 'bench', commandTimeoutMs: 5_000 });
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis at ${url} is not reachable`)), 5_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return redis;
}

/** Server-wide command counters (INFO stats + commandstats): every client of this Redis counts. */
export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [stats, commandstats] = await Promise.all([redis.info('stats'), redis.info('commandstats')]);
  const total = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0);
  const byCommand: Record<string, number> = {};
  for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) byCommand[m[1]!] = Number(m[2]);
  return { total, byCommand };
}

/**
 * Commands per unit of work between two readings, the busiest first; the INFO calls of the
 * readings themselves are left out.
 */
export function redisDelta(after: RedisCounters, before: RedisCounters, per: number) {
  const byCommand = Object.entries(after.byCommand)
    .map(([cmd, n]) => [cmd, n - (before.byCommand[cmd] ?? 0) - (cmd === 'info' ? 2 : 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = after.total - before.total - 2;
  return {
    total,
    perUnit: per ? +(total / per).toFixed(2) : 0,
    byCommandPerUnit: Object.fromEntries(byCommand.map(([cmd, n]) => [cmd, per ? +(n / per).toFixed(2) : 0])),
  };
}

/** The clients connected now (CLIENT LIST): their port on this machine and idle seconds. */
export async function redisClients(redis: Redis): Promise<{ port: number; idle: number }[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => ({
      port: Number(/ addr=\S*:(\d+) /.exec(line)?.[1] ?? 0),
      idle: Number(/ idle=(\d+)/.exec(line)?.[1] ?? 0),
    }));
}

/**
 * Redis clients that are not these processes' and ran a command in the last `seconds`: the
 * counters include their work.
 */
export async function otherActiveRedisClients(redis: Redis, pids: number[], seconds: number): Promise<number> {
  const ours = localPortsOf(pids);
  return (await redisClients(redis)).filter((c) => !ours.has(c.port) && c.idle < seconds).length;
}

/** Redis commands sent by our processes (their /metrics), by command: a script counts once. */
export async function redisCommandsSent(urls: string[]): Promise<Record<string, number>> {
  const texts = await Promise.all(
    urls.map((url) =>
      fetch(`${url}/metrics`)
        .then((r) => (r.ok ? r.text() : ''))
        .catch(() => ''),
    ),
  );
  const sent: Record<string, number> = {};
  for (const text of texts)
    for (const m of text.matchAll(/^tatkal_redis_commands_sent_total\{[^}]*command="([^"]+)"[^}]*\} (\S+)/gm))
      sent[m[1]!] = (sent[m[1]!] ?? 0) + Number(m[2]);
  return sent;
}

/** Commands sent per unit of work between two readings, the busiest first. */
export function sentDelta(after: Record<string, number>, before: Record<string, number>, per: number) {
  const byCommand = Object.entries(after)
    .map(([cmd, n]) => [cmd, n - (before[cmd] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = byCommand.reduce((sum, [, n]) => sum + n, 0);
  return {
    total,
    perUnit: per ? +(total / per).toFixed(2) : 0,
    byCommandPerUnit: Object.fromEntries(byCommand.map(([cmd, n]) => [cmd, per ? +(n / per).toFixed(2) : 0])),
  };
}
