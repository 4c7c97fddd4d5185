// Serves the built app (dist/) as a static site, and config.json with the gateway's URL: what
// `npm start` and the browser test run (production: any static host, docs/operations.md). The
// gateway must list this server's origin in CORS_ORIGINS.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { DIST } from './build.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface ServedApp {
  url: string;
  close: () => Promise<void>;
}

export interface ServeAppOptions {
  port: number;
  host?: string;
  /** The gateway's GraphQL URL as a browser reaches it (a function: known only after it started). */
  gatewayUrl: string | (() => string);
  dist?: string;
}

export async function serveApp(opts: ServeAppOptions): Promise<ServedApp> {
  const dist = opts.dist ?? DIST;
  if (!existsSync(join(dist, 'index.html'))) throw new Error(`${dist}/index.html is missing: build the app first`);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const common = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...common, allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/config.json') {
      const gatewayUrl = typeof opts.gatewayUrl === 'function' ? opts.gatewayUrl() : opts.gatewayUrl;
      res.writeHead(200, { ...common, 'content-type': TYPES['.json']!, 'cache-control': 'no-store' });
      res.end(JSON.stringify({ gatewayUrl }));
      return;
    }
    // No path leaves dist/; anything that is not a file is the app (hash routes need only index.html).
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    const found = file.startsWith(dist) && existsSync(file) && statSync(file).isFile();
    const target = found ? file : join(dist, 'index.html');
    // Hashed assets never change; index.html always revalidates.
    const immutable = found && path.startsWith('/assets/');
    res.writeHead(200, {
      ...common,
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(target).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
