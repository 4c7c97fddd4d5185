// What the gateway refuses before any subgraph is called: too many requests from one client IP
// and queries over the token/nesting limits on the raw text (Express middleware), queries over
// the cost limit and too many expensive operations per user (Apollo plugin: by the root field
// names in the document, not by the operationName a client chooses). Depth and aliases of the
// parsed document are Armor's validation rules (limits.ts, wired in server.ts).
import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import {
  clientIpOf,
  ErrorCode,
  rateLimited,
  rateLimitRejections,
  ExpiringKeys,
  type FixedWindowLimiter,
  type Logger,
  type RateLimit,
  type WindowHit,
} from '@tatkal/common';
import { checkCost, queryTooComplex, rootFieldCounts, sourceLimitCheck, type QueryLimits } from './limits.ts';
import type { GatewayContext } from './context.ts';
import { hashOfDocumentId, type TrustedDocumentManifest } from './trustedDocuments.ts';

/**
 * A request's per-IP window while it is not counted yet: a signed-in POST that may name an
 * expensive field is counted by `guardPlugin` together with its per-user windows (one Redis
 * call), else by `ipRateLimit`'s `afterBody`, and at the latest when the response closes.
 */
export interface IpWindow {
  ip: string;
  pending: boolean;
  /** Its IP was refused: until the window ends, its requests are counted before the body again. */
  refused: (retryAfterSeconds: number) => void;
}

type IpDecision = { count: number; retryAfterSeconds: number };

function logIpRefusal(logger: Logger, requestId: string | undefined, ip: string, d: IpDecision, max: number) {
  rateLimitRejections.inc({ limit: 'gateway.ip' });
  logger.warn({ requestId, ip, count: d.count, max }, 'client IP over its rate limit');
}

/**
 * A request body's operation text: its `query`, or its persisted document's from the manifest;
 * null for a hash not in it (an APQ registration), undefined when there is no single operation.
 */
function operationText(body: unknown, documents: TrustedDocumentManifest | undefined): string | null | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const op = body as {
    query?: unknown;
    documentId?: unknown;
    extensions?: { persistedQuery?: { sha256Hash?: unknown } };
  };
  if (typeof op.query === 'string') return op.query;
  const id = op.extensions?.persistedQuery?.sha256Hash ?? op.documentId;
  if (typeof id !== 'string') return undefined;
  return documents?.get(hashOfDocumentId(id)) ?? null;
}

/**
 * Per client IP over the whole gateway. Redis down: the limiter fails open. Two middlewares:
 * `beforeBody` counts anonymous requests and GETs before the body is read; a signed-in POST waits
 * for `afterBody`, which counts it there unless its query text names one of `expensiveFields`
 * (then guardPlugin counts it with the per-user windows, in one Redis call). A request that ends
 * before either counted it (bad JSON, a refused text) is counted when it closes. An IP refused
 * lately is counted (and refused) before the body again, whatever its headers.
 */
export function ipRateLimit(
  limiter: FixedWindowLimiter,
  limit: RateLimit,
  logger: Logger,
  expensiveFields: readonly string[] = [],
  documents?: TrustedDocumentManifest,
) {
  // IPs refused lately (bounded): a client over its limit is refused before its body is read, as
  // before the fold, whatever headers it sends.
  const refusedUntil = new ExpiringKeys(10_000);
  const refused = (ip: string, retryAfterSeconds: number) =>
    refusedUntil.set(ip, Date.now() + retryAfterSeconds * 1000);
  const refusedLately = (ip: string) => refusedUntil.has(ip);
  const countNow = async (ip: string, res: Response, next: NextFunction) => {
    const decision = await limiter.hit(`ip:${ip}`, limit);
    if (!decision || decision.allowed) return next();
    refused(ip, decision.retryAfterSeconds);
    logIpRefusal(logger, res.locals.requestId as string | undefined, ip, decision, limit.max);
    const error = rateLimited(decision.retryAfterSeconds);
    res
      .status(429)
      .set('retry-after', String(decision.retryAfterSeconds))
      .json({
        errors: [
          {
            message: error.message,
            extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: decision.retryAfterSeconds },
          },
        ],
      });
  };
  const beforeBody = async (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') return next();
    const ip = clientIpOf(req);
    if (expensiveFields.length === 0 || req.method !== 'POST' || !req.headers.authorization || refusedLately(ip))
      return countNow(ip, res, next);
    const window: IpWindow = { ip, pending: true, refused: (seconds) => refused(ip, seconds) };
    res.locals.ipWindow = window;
    // Whatever way the request ends, its IP is counted once.
    res.once('close', () => {
      if (!window.pending) return;
      window.pending = false;
      void limiter.hit(`ip:${ip}`, limit);
    });
    next();
  };
  const afterBody = async (req: Request, res: Response, next: NextFunction) => {
    const window = res.locals.ipWindow as IpWindow | undefined;
    if (!window?.pending) return next();
    const text = operationText(req.body, documents);
    // A text naming an expensive field, or a persisted hash this gateway cannot read: guardPlugin counts it.
    if (text === null || (text !== undefined && expensiveFields.some((f) => text.includes(f)))) return next();
    window.pending = false;
    return countNow(window.ip, res, next);
  };
  return { beforeBody, afterBody };
}

/**
 * On the text, before Apollo parses anything: a query over the token or nesting limit is never
 * parsed. (Apollo turns errors thrown from its own pre-parse hooks into a 500, so this is Express
 * middleware, after the JSON body is read; batched bodies are checked operation by operation.)
 */
export function sourceLimits(limits: QueryLimits, logger: Logger) {
  const checkSource = sourceLimitCheck(limits);
  return async (req: Request, res: Response, next: NextFunction) => {
    // GET carries the query in the URL (queries only; Apollo answers it too).
    const body: unknown = req.method === 'GET' ? req.query : req.body;
    const operations = Array.isArray(body) ? body : [body];
    for (const operation of operations) {
      const query = operation && typeof operation === 'object' ? (operation as { query?: unknown }).query : undefined;
      if (typeof query !== 'string') continue;
      const violation = await checkSource(query);
      if (!violation) continue;
      logger.warn({ violation }, 'query refused before parsing');
      const error = queryTooComplex(violation);
      res.status(400).json({
        errors: [{ message: error.message, extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, ...violation } }],
      });
      return;
    }
    next();
  };
}

export interface GuardOptions {
  limits: QueryLimits;
  /** Root fields limited per user (anonymous callers: per IP), e.g. reserveSeats, createPayment. */
  expensive?: { limiter: FixedWindowLimiter; fields: Set<string>; limit: RateLimit };
  /** The per-IP limit, for requests whose IP window `ipRateLimit` left to this plugin (`ipWindow`). */
  perIp?: RateLimit;
}

export function guardPlugin(opts: GuardOptions): ApolloServerPlugin<GatewayContext> {
  const ipRefusal = (ctx: GatewayContext, window: IpWindow, decision: IpDecision) => {
    window.refused(decision.retryAfterSeconds);
    logIpRefusal(ctx.log, ctx.requestId, window.ip, decision, opts.perIp!.max);
    return rateLimited(decision.retryAfterSeconds, { http: true });
  };
  return {
    async requestDidStart() {
      return {
        // One hook, in order: a query refused as too costly is not counted against the user.
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const expensive = opts.expensive;
          // The request's IP window, when ipRateLimit left it here.
          const ipWindow = expensive && opts.perIp && contextValue.ipWindow?.pending ? contextValue.ipWindow : null;
          if (ipWindow) ipWindow.pending = false;
          const ipHit = ipWindow ? [{ key: `ip:${ipWindow.ip}`, limit: opts.perIp! }] : [];
          const violation = checkCost(schema, document, operation, request.variables ?? {}, opts.limits);
          if (violation) {
            // Its IP counts (and refuses first), as if counted before the cost check.
            const decision = ipWindow && (await expensive!.limiter.hits(ipHit))?.[0];
            if (decision && !decision.allowed) throw ipRefusal(contextValue, ipWindow!, decision);
            throw queryTooComplex(violation);
          }
          if (!expensive) return;
          const who = contextValue.identity ? `user:${contextValue.identity.userId}` : `ip:${contextValue.clientIp}`;
          const fields = [...rootFieldCounts(document, operation)].filter(([field]) => expensive.fields.has(field));
          // All of the request's windows in one Redis call: its IP's first, then each field's.
          const windows: WindowHit[] = [
            ...ipHit,
            ...fields.map(([field, count]) => ({ key: `op:${field}:${who}`, limit: expensive.limit, weight: count })),
          ];
          if (windows.length === 0) return;
          const decisions = await expensive.limiter.hits(windows);
          const refused = decisions?.at(-1);
          if (!refused || refused.allowed) return;
          const fieldIndex = decisions!.length - 1 - ipHit.length;
          if (fieldIndex < 0) throw ipRefusal(contextValue, ipWindow!, refused);
          const field = fields[fieldIndex]![0];
          // Only configured field names reach here: the label stays bounded.
          rateLimitRejections.inc({ limit: `gateway.${field}` });
          contextValue.log.warn(
            { field, who, count: refused.count, max: expensive.limit.max },
            'operation over its per-user rate limit',
          );
          throw rateLimited(refused.retryAfterSeconds, {
            http: true,
            message: `Too many ${field} requests; retry after ${refused.retryAfterSeconds} s`,
          });
        },
        // A subgraph's RATE_LIMITED (login, register, ...) also gets the Retry-After header.
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const hints = (response.body.singleResult.errors ?? [])
            .filter((e) => e.extensions?.code === ErrorCode.RATE_LIMITED)
            .map((e) => Number(e.extensions?.retryAfterSeconds))
            .filter((s) => Number.isFinite(s) && s > 0);
          if (hints.length && !response.http.headers.has('retry-after'))
            response.http.headers.set('retry-after', String(Math.max(...hints)));
        },
      };
    },
  };
}
