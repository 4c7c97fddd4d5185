// A Redis client for a test file: connected before its tests (the clients have no offline queue:
// commands fail until the connection is up), its keys under `prefix` deleted and the client
// closed after them.
import { afterAll, beforeAll } from 'vitest';
import { createRedis, type Redis } from '@tatkal/common';
import { REDIS_URL } from './env.ts';

export function redisForTests(name: string, prefix: string | null = null): Redis {
  const redis = createRedis(REDIS_URL, { name, commandTimeoutMs: 2000 });
  beforeAll(async () => {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  });
  afterAll(async () => {
    if (prefix) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
  });
  return redis;
}
