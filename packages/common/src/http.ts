import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express, type Request } from 'express';

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

/**
 * The client's address: `req.ip` honours the app's `trust proxy` setting (x-forwarded-for only
 * from trusted peers); IPv4-mapped IPv6 addresses are shown as IPv4.
 */
export function clientIpOf(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Adds `GET /health` (live) and `GET /ready` (its own dependencies answer) to an app. */
export function addHealthRoutes(app: Express, ready: ReadinessCheck): void {
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const checks = await ready().catch(() => ({ checks: false }));
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  });
}

export async function listen(app: Express, port: number, host = '0.0.0.0'): Promise<HttpServer> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const actual = (server.address() as AddressInfo).port;
  return {
    app,
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

export { express };
