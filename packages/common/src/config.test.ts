import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, loadConfig, loadSubgraphConfig } from './config.ts';

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

describe('loadSubgraphConfig', () => {
  const db = { DATABASE_URL: 'postgresql://u@h/db' };
  const secret = { IDENTITY_ASSERTION_SECRET: 's'.repeat(40) };
  const load = (env: Record<string, string>) => loadSubgraphConfig(4003, { EXTRA: z.string().default('x') }, env);

  it("answers the gateway only in production, which needs the gateway's secret", () => {
    expect(() => load({ ...db, NODE_ENV: 'production' })).toThrow(
      new ConfigError(
        'invalid configuration: IDENTITY_ASSERTION_SECRET: required but not set ' +
          '(production: only requests the gateway signed with it are answered)',
      ),
    );
    const production = load({ ...db, ...secret, NODE_ENV: 'production' });
    expect(production).toMatchObject({ REQUIRE_GATEWAY_SIGNATURE: true, PORT: 4003, EXTRA: 'x' });
    expect(load({ ...db }).REQUIRE_GATEWAY_SIGNATURE).toBe(false);
  });

  it('takes REQUIRE_GATEWAY_SIGNATURE when set, true or false, and nothing else', () => {
    expect(load({ ...db, NODE_ENV: 'production', REQUIRE_GATEWAY_SIGNATURE: 'false' }).REQUIRE_GATEWAY_SIGNATURE).toBe(
      false,
    );
    expect(() => load({ ...db, REQUIRE_GATEWAY_SIGNATURE: 'true' })).toThrow(
      /IDENTITY_ASSERTION_SECRET: required but not set \(REQUIRE_GATEWAY_SIGNATURE: /,
    );
    expect(load({ ...db, ...secret, REQUIRE_GATEWAY_SIGNATURE: 'true' }).REQUIRE_GATEWAY_SIGNATURE).toBe(true);
    expect(() => load({ ...db, REQUIRE_GATEWAY_SIGNATURE: 'yes' })).toThrow(
      /^invalid configuration: REQUIRE_GATEWAY_SIGNATURE: /,
    );
  });
});
