// The OTP provider by environment: the development simulator never in production.
import { describe, expect, it } from 'vitest';
import { loadAuthConfig } from '../src/config.ts';

const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/db', REDIS_URL: 'redis://127.0.0.1:6379' };
const production = { ...base, NODE_ENV: 'production', IDENTITY_ASSERTION_SECRET: 's'.repeat(40) };

describe('OTP_PROVIDER', () => {
  it('is the simulator outside production, disabled in production unless set', () => {
    expect(loadAuthConfig({ ...base, NODE_ENV: 'development' }).OTP_PROVIDER).toBe('simulator');
    expect(loadAuthConfig({ ...base, NODE_ENV: 'test' }).OTP_SIMULATOR_URL).toBe('http://127.0.0.1:4007');
    expect(loadAuthConfig(production).OTP_PROVIDER).toBe('disabled');
  });

  it('refuses the simulator in production, naming the variable', () => {
    expect(() => loadAuthConfig({ ...production, OTP_PROVIDER: 'simulator' })).toThrow(
      /^invalid configuration: OTP_PROVIDER: simulator is for development and tests only/,
    );
    expect(() => loadAuthConfig({ ...base, OTP_PROVIDER: 'twilio' })).toThrow(/invalid configuration: OTP_PROVIDER:/);
    expect(() => loadAuthConfig({ ...base, IDENTITY_CODE_TTL_SECONDS: '5' })).toThrow(
      /invalid configuration: IDENTITY_CODE_TTL_SECONDS:/,
    );
  });
});
