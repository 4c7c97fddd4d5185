// What every subgraph request carries, built by serveSubgraph; each service extends it. Its own
// module so that what reads it (authz rules, rate limits) and what builds it do not import each other.
import type { BaseContext } from '@apollo/server';
import type { Logger } from 'pino';
import type { Identity } from './identity.ts';
import type { RedisRateLimitStore } from './ratelimit.ts';

export interface RequestContext extends BaseContext {
  identity: Identity | null;
  requestId: string;
  log: Logger;
  /** The client's address: as the gateway signed it, or this request's own socket address. */
  clientIp?: string;
  /**
   * The verified caller's own `Authorization` header, for calls to another subgraph on its behalf
   * (absent when anonymous).
   */
  authorization?: string;
  /**
   * The request carries the gateway's verified signature (IDENTITY_ASSERTION_SECRET): the gateway's
   * own limits counted it (see `rateLimit({ limitedByGateway })`).
   */
  viaGateway?: boolean;
  /** Where `rateLimit(...)` shield rules count calls; absent in tests that build the server directly. */
  rateLimitStore?: RedisRateLimitStore;
}
