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
  type FixedWindowLimiter,
  type Logger,
  type RateLimit,
} from '@tatkal/common';
import { checkCost, queryTooComplex, rootFieldCounts, sourceLimitCheck, type QueryLimits } from './limits.ts';
import type { GatewayContext } from './context.ts';

/** Per client IP over the whole gateway. Redis down: the limiter fails open. */
export function ipRateLimit(limiter: FixedWindowLimiter, limit: RateLimit, logger: Logger) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') return next();
    const ip = clientIpOf(req);
    const decision = await limiter.hit(`ip:${ip}`, limit);
    if (!decision || decision.allowed) return next();
    rateLimitRejections.inc({ limit: 'gateway.ip' });
    logger.warn(
      { requestId: res.locals.requestId as string | undefined, ip, count: decision.count, max: limit.max },
      'client IP over its rate limit',
    );
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
}

export function guardPlugin(opts: GuardOptions): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        // One hook, in order: a query refused as too costly is not counted against the user.
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const violation = checkCost(schema, document, operation, request.variables ?? {}, opts.limits);
          if (violation) throw queryTooComplex(violation);
          const expensive = opts.expensive;
          if (!expensive || expensive.fields.size === 0) return;
          const who = contextValue.identity ? `user:${contextValue.identity.userId}` : `ip:${contextValue.clientIp}`;
          for (const [field, count] of rootFieldCounts(document, operation)) {
            if (!expensive.fields.has(field)) continue;
            const decision = await expensive.limiter.hit(`op:${field}:${who}`, expensive.limit, count);
            if (decision && !decision.allowed) {
              // Only configured field names reach here: the label stays bounded.
              rateLimitRejections.inc({ limit: `gateway.${field}` });
              contextValue.log.warn(
                { field, who, count: decision.count, max: expensive.limit.max },
                'operation over its per-user rate limit',
              );
              throw rateLimited(decision.retryAfterSeconds, {
                http: true,
                message: `Too many ${field} requests; retry after ${decision.retryAfterSeconds} s`,
              });
            }
          }
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
