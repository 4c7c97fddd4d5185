import { z } from 'zod';
import { ConfigError, env, rateLimitEnv, loadSubgraphConfig } from '@tatkal/common';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export function loadAuthConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadSubgraphConfig(
    4001,
    {
      ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
      REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(90).default(30),
      /** A retried refreshSession within this many seconds gets the same new pair; 0: any second use signs out. */
      REFRESH_REUSE_GRACE_SECONDS: z.coerce.number().int().min(0).max(60).default(10),
      /** JSON file holding the signing keys (private JWKs); first key signs, all are published. */
      AUTH_SIGNING_KEYS_FILE: z.string().min(1).default('.keys/auth-signing-keys.json'),
      /** Generate the key file when missing. On in development only, unless set. */
      AUTH_GENERATE_KEYS: bool.optional(),
      ADMIN_EMAIL: z.email().optional(),
      ADMIN_PASSWORD: z.string().min(12).optional(),
      /** Rate limits live in Redis so every auth instance shares them. */
      REDIS_URL: env.redisUrl,
      /** Key prefix of the rate-limit counters (tests use one per run). */
      RATE_LIMIT_PREFIX: z.string().default('rl:'),
      /** login: per (client IP, email). */
      RATE_LIMIT_LOGIN: rateLimitEnv('10/1m'),
      /** register: per client IP. */
      RATE_LIMIT_REGISTER: rateLimitEnv('5/1m'),
      /**
       * Who delivers identity codes: `simulator` (the development OTP simulator, default outside
       * production; refused in production) or `disabled` (default in production until a real SMS
       * provider is wired in behind OtpSender: requesting a code then fails).
       */
      OTP_PROVIDER: z.enum(OTP_PROVIDERS).optional(),
      /** The development OTP simulator (subgraphs/auth/src/otp). */
      OTP_SIMULATOR_URL: env.httpUrl.default('http://127.0.0.1:4007'),
      /** How long a one-time code is good for. */
      IDENTITY_CODE_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(300),
      /** Least time between two codes for one user. */
      IDENTITY_CODE_RESEND_SECONDS: z.coerce.number().int().min(10).max(600).default(60),
    },
    source,
  );
  const production = config.NODE_ENV === 'production';
  const otpProvider = config.OTP_PROVIDER ?? (production ? 'disabled' : 'simulator');
  if (production && otpProvider === 'simulator')
    throw new ConfigError(
      'invalid configuration: OTP_PROVIDER: simulator is for development and tests only ' +
        '(it keeps codes in clear); production needs a real SMS provider',
    );
  return { ...config, OTP_PROVIDER: otpProvider, AUTH_GENERATE_KEYS: config.AUTH_GENERATE_KEYS ?? !production };
}

export const OTP_PROVIDERS = ['simulator', 'disabled'] as const;
export type AuthConfig = ReturnType<typeof loadAuthConfig>;
