import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, loadConfig } from './config.ts';

describe('loadConfig', () => {
  const shape = {
    DATABASE_URL: env.databaseUrl,
    PORT: env.port(4002),
    NODE_ENV: env.nodeEnv,
    POOL: z.coerce.number().int().min(1),
  };

  it('parses and applies defaults', () => {
    expect(loadConfig(shape, { DATABASE_URL: 'postgresql://u@h/db', POOL: '5' })).toEqual({
      DATABASE_URL: 'postgresql://u@h/db',
      PORT: 4002,
      NODE_ENV: 'development',
      POOL: 5,
    });
  });

  it('names a missing variable', () => {
    expect(() => loadConfig(shape, { POOL: '5' })).toThrow(
      new ConfigError('invalid configuration: DATABASE_URL: required but not set'),
    );
  });

  it('names a bad variable and why', () => {
    expect(() => loadConfig(shape, { DATABASE_URL: 'postgresql://u@h/db', PORT: '99999', POOL: '5' })).toThrow(
      /^invalid configuration: PORT: /,
    );
    expect(() => loadConfig(shape, { DATABASE_URL: 'redis://x', POOL: '5' })).toThrow(
      'invalid configuration: DATABASE_URL: must be a postgresql: or postgres: URL',
    );
  });
});
