import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured JSON logger per process; request-scoped children carry `requestId`. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: ['req.headers.authorization', 'password', '*.password', 'refreshToken'], remove: true },
  });
}
