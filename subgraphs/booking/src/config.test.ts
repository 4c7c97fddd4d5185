// booking's opening times from the environment: HH:MM or HH:MM:SS IST, the Railways' hours by
// default, and a refusal that names the variable.
import { describe, expect, it } from 'vitest';
import { loadBookingConfig } from './config.ts';

const base = {
  NODE_ENV: 'test',
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/none',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
  AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
};

describe('booking config: opening times', () => {
  it("defaults to the Railways' 10:00, 11:00 and 08:00, as seconds after IST midnight", () => {
    expect(loadBookingConfig(base)).toMatchObject({
      TATKAL_OPENS_AC: 36_000,
      TATKAL_OPENS_NON_AC: 39_600,
      GENERAL_OPENS: 28_800,
    });
  });

  it('takes HH:MM and HH:MM:SS', () => {
    const config = loadBookingConfig({ ...base, TATKAL_OPENS_AC: '09:30', TATKAL_OPENS_NON_AC: '14:05:07' });
    expect(config).toMatchObject({ TATKAL_OPENS_AC: 34_200, TATKAL_OPENS_NON_AC: 50_707, GENERAL_OPENS: 28_800 });
  });

  it('refuses anything else, naming the variable', () => {
    for (const [name, value] of [
      ['TATKAL_OPENS_AC', '25:00'],
      ['TATKAL_OPENS_NON_AC', '11'],
      ['GENERAL_OPENS', '8:00'],
      ['TATKAL_OPENS_AC', '10:00:60'],
    ] as const)
      expect(() => loadBookingConfig({ ...base, [name]: value })).toThrow(new RegExp(`${name}.*HH:MM`));
  });
});
