// The gateway's per-request context, built in server.ts and read by the data sources and guards.
import type { Identity, Logger } from '@tatkal/common';
import type { IpWindow } from './guards.ts';

export interface GatewayContext {
  requestId: string;
  identity: Identity | null;
  /** The verified bearer token, forwarded: a subgraph verifies it again unless it can check `identityAssertion`. */
  authorization?: string;
  /**
   * The verified identity (or none) and the client's address, signed for subgraphs
   * (IDENTITY_ASSERTION_HEADER), once per request.
   */
  identityAssertion?: string;
  /** The client's socket address (or from a trusted proxy in front); subgraphs learn it from the signed assertion. */
  clientIp: string;
  log: Logger;
  /** Its per-IP window when the middleware left it to guardPlugin (counted with the per-user ones). */
  ipWindow?: IpWindow;
}
