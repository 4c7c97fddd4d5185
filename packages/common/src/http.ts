import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express, { type Express, type Request, type RequestHandler } from 'express';
import { runInRequestScope } from './logger.ts';
import { withTimeout } from './telemetry.ts';
import { traceRequests } from './tracing.ts';

export type ReadinessCheck = () => Promise<Record<string, boolean>>;

export interface HttpServer {
  app: Express;
  server: Server;
  port: number;
  url: string;
  close: () => Promise<void>;
}

/** `x-request-id` from the caller (gateway) when sane, else a new one. */
export function requestIdOf(req: Request): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Gives the request its id (`requestIdOf`) in `res.locals.requestId` and the `x-request-id` response header. */
export function adoptRequestId(): RequestHandler {
  return (req, res, next) => {
    res.locals.requestId = requestIdOf(req);
    res.setHeader('x-request-id', res.locals.requestId as string);
    next();
  };
}

/**
 * Runs the rest of the request in its log scope; mount after the body is read (stream callbacks
 * would lose the scope).
 */
export function requestLogScope(): RequestHandler {
  return (_req, res, next) => runInRequestScope(res.locals.requestId as string, next);
}

/**
 * The client's address: `req.ip` honours the app's `trust proxy` setting (x-forwarded-for only
 * from trusted peers); IPv4-mapped IPv6 addresses are shown as IPv4.
 */
export function clientIpOf(req: Request): string {
  return plainIp(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}

/** The peer's own address, whatever any header says. */
export function socketAddressOf(req: Request): string {
  return plainIp(req.socket.remoteAddress ?? 'unknown');
}

const plainIp = (ip: string) => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);

/** How long one readiness check may take before it counts as failed. */
export const READINESS_CHECK_TIMEOUT_MS = 1_500;

/**
 * A readiness check over named dependencies, run in parallel, each bounded by `timeoutMs`: a
 * dependency that throws or does not answer in time is `false` under its own name.
 */
export function readinessChecks(
  checks: Record<string, () => Promise<boolean>>,
  timeoutMs = READINESS_CHECK_TIMEOUT_MS,
): ReadinessCheck {
  return async () => {
    const entries = await Promise.all(
      Object.entries(checks).map(
        async ([name, check]) => [name, await withTimeout(check(), timeoutMs, name).catch(() => false)] as const,
      ),
    );
    return Object.fromEntries(entries);
  };
}

/**
 * Adds `GET /health` (live: answers while the event loop does) and `GET /ready` (its own
 * dependencies answer; 503 names the ones that do not) to an app. A readiness check that hangs
 * answers 503 after a bound, never holds the probe.
 */
export function addHealthRoutes(app: Express, ready: ReadinessCheck): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const checks = await withTimeout(ready(), READINESS_CHECK_TIMEOUT_MS + 500, 'readiness').catch(() => ({
      checks: false,
    }));
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  });
}

/** Connections the kernel queues for a server before its process accepts them. */
export const LISTEN_BACKLOG = 4096;

export async function listen(app: Express, port: number, host = '0.0.0.0'): Promise<HttpServer> {
  // As app.listen does, with a SERVER span around each request when tracing is on (tracing.ts).
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createServer(traceRequests(app));
    s.once('error', reject);
    // A deep accept queue: at a Tatkal opening thousands connect in the same second. Node's default
    // (511) overflows, and the kernel drops the SYNs it cannot queue; the client then resends after
    // 1, 3, 7, 15, 31 s: a tail of tens of seconds for whoever lost that draw. The kernel caps it
    // at net.core.somaxconn.
    s.listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve(s));
  });
  server.keepAliveTimeout = 65_000;
  const actual = (server.address() as AddressInfo).port;
  // Every interface: reach it over loopback; one address: that one.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    app,
    server,
    port: actual,
    url: `http://${reachable}:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

export { express };
