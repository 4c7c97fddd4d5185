import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * The request being served, for every log line written while serving it: Apollo's own logger,
 * the gateway's, a resolver's. `runInRequestScope` is called by the HTTP layer once the request
 * id is known (after the body is read: stream callbacks would lose the scope).
 */
const requestScope = new AsyncLocalStorage<{ requestId: string }>();

export function runInRequestScope<T>(requestId: string, fn: () => T): T {
  return requestScope.run({ requestId }, fn);
}

export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.requestId;
}

/** One structured JSON logger per process; every line written inside a request carries `requestId`. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    redact: { paths: ['req.headers.authorization', 'password', '*.password', 'refreshToken'], remove: true },
    // A child logger bound to the request already has requestId: do not write the key twice.
    mixin: (_obj, _level, logger) => {
      const requestId = requestScope.getStore()?.requestId;
      return requestId && !('requestId' in logger.bindings()) ? { requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
