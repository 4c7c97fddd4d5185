import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * The fields of the work being done, for every log line written while doing it: a request's id
 * (Apollo's own logger, the gateway's, a resolver's), a booking's PNR once known, a consumed
 * message's id and correlation id. `runInRequestScope` is called by the HTTP layer once the
 * request id is known (after the body is read: stream callbacks would lose the scope).
 */
const logScope = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs `fn` with `fields` (added to the enclosing scope's) on every log line it writes. */
export function runInLogScope<T>(fields: Record<string, unknown>, fn: () => T): T {
  const parent = logScope.getStore();
  return logScope.run({ ...parent, ...definedOnly(fields) }, fn);
}

export function runInRequestScope<T>(requestId: string, fn: () => T): T {
  return runInLogScope({ requestId }, fn);
}

/**
 * Adds fields to the current scope from inside it (e.g. the PNR once a mutation has one): the
 * lines written after this call, in this request or delivery, carry them. Outside a scope: nothing.
 */
export function addLogFields(fields: Record<string, unknown>): void {
  const store = logScope.getStore();
  if (store) Object.assign(store, definedOnly(fields));
}

export function currentRequestId(): string | undefined {
  const id = logScope.getStore()?.requestId;
  return typeof id === 'string' ? id : undefined;
}

function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

// A child logger's bound keys never change here (no setBindings): parse them once per logger.
const boundKeys = new WeakMap<object, Set<string>>();
function keysBoundTo(logger: Logger): Set<string> {
  let keys = boundKeys.get(logger);
  if (!keys) {
    keys = new Set(Object.keys(logger.bindings()));
    boundKeys.set(logger, keys);
  }
  return keys;
}

/** One structured JSON logger per process; every line written inside a scope carries its fields. */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    redact: { paths: ['req.headers.authorization', 'password', '*.password', 'refreshToken'], remove: true },
    // A child logger bound to the request already has requestId (a consumer's, messageId): do
    // not write a key twice. Fields given to the log call itself win over the scope's.
    mixin: (_obj, _level, logger) => {
      const store = logScope.getStore();
      if (!store) return {};
      const bound = keysBoundTo(logger as Logger);
      const out: Record<string, unknown> = {};
      for (const key in store) if (!bound.has(key)) out[key] = store[key];
      return out;
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
