// What a process sends to Redis, counted as it sends it (tatkal_redis_commands_sent_total): a
// pipeline's commands one each, a script once however many commands it runs inside Redis.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redisScript } from './redis.ts';
import { metricsRegistry } from './telemetry.ts';
import { redisForTests } from '../../../test/support/redis.ts';

// Defined before the client: createRedis defines every script made so far on it.
const bumpTwice = redisScript<number>(
  'countingTestBumpTwice',
  "redis.call('INCRBY', KEYS[1], 1); return redis.call('INCRBY', KEYS[1], 1)",
);
const key = `count:test:${randomUUID()}`;
const redis = redisForTests('redis-count-test', key);

async function sent(): Promise<Record<string, number>> {
  const metric = metricsRegistry.getSingleMetric('tatkal_redis_commands_sent_total');
  const { values } = await metric!.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.command), v.value]));
}

async function serverCalls(command: string): Promise<number> {
  const stats = (await redis.info('commandstats')) as string;
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
}

describe('Redis commands sent', () => {
  it('counts each command sent, a pipeline one per command, a script once', async () => {
    await bumpTwice(redis, [key], []); // loads the script (EVALSHA, then EVAL on NOSCRIPT if new)
    const before = await sent();
    const incrbyBefore = await serverCalls('incrby');

    await redis.get(key);
    await redis.pipeline().set(`${key}:a`, '1').set(`${key}:b`, '2').exec();
    expect(await bumpTwice(redis, [key], [])).toBe(4);

    const after = await sent();
    const delta = (c: string) => (after[c] ?? 0) - (before[c] ?? 0);
    expect({ get: delta('get'), set: delta('set'), evalsha: delta('evalsha'), incrby: delta('incrby') }).toEqual({
      get: 1,
      set: 2,
      evalsha: 1,
      incrby: 0,
    });
    // Redis itself counted the two INCRBYs the script ran (and no client sent one).
    expect((await serverCalls('incrby')) - incrbyBefore).toBeGreaterThanOrEqual(2);
  });
});
