// A round-robin HTTP balancer in front of a service's instances, as a Kubernetes Service with a
// proxy's "retry on connect failure" would be: a request goes to the next instance; an instance
// that refuses the connection (dead, or restarting) is skipped, since nothing reached it. A
// connection that breaks after the request was sent is answered 502: the instance may have acted
// on it, so only the caller may retry (with its idempotency key).
import {
  Agent,
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  url: string;
  /** Requests answered 502/503 by the balancer itself (instance died mid-request or none up). */
  failures: number;
  close: () => Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Balances over `backends()` (base URLs, read per request: instances come and go). */
export async function startBalancer(backends: () => string[]): Promise<Balancer> {
  let next = 0;
  const state: Balancer = { url: '', failures: 0, close: async () => {} };
  /** One try at `target`: 'refused' when nothing reached it (the next instance may take it). */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    body: Buffer,
    headers: OutgoingHttpHeaders,
  ) =>
    new Promise<'refused' | 'done'>((resolve) => {
      const out = request(target, { method: req.method, headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', () => resolve('done'));
        up.on('error', () => {
          res.destroy();
          resolve('done');
        });
      });
      out.on('error', (err: NodeJS.ErrnoException) => {
        if (res.headersSent) {
          res.destroy();
          return resolve('done');
        }
        // A reused keep-alive socket of a killed instance resets before any answer: the request
        // may have arrived, so it is not sent again here.
        if (err.code === 'ECONNREFUSED') return resolve('refused');
        state.failures++;
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream ${err.code ?? err.message}`);
        resolve('done');
      });
      out.end(body);
    });
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const list = backends();
      const headers: OutgoingHttpHeaders = { ...req.headers, 'content-length': String(body.length) };
      delete headers.host;
      for (let tried = 0; tried < list.length; tried++) {
        const target = new URL(req.url ?? '/', list[next++ % list.length]);
        if ((await forward(req, res, target, body, headers)) === 'done') return;
      }
      state.failures++;
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('no instance up');
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
