// payment's outgoing JSON calls (booking's reservation check, the provider's API), once or twice
// per payment of a rush: one keep-alive undici pool per origin and a plain request. `fetch` builds
// WHATWG Request/Response objects, streams and an AbortSignal per call; in the payment phase's
// profile it was a fifth of payment's CPU.
import { Pool } from 'undici';

export interface JsonAnswer {
  status: number;
  /** The body parsed as JSON; null when it is not JSON. */
  body: unknown;
}

export interface JsonClient {
  /** POSTs `body` as JSON; rejects on a network error or when no answer came within the time-out. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<JsonAnswer>;
  close(): Promise<void>;
}

export function jsonClient(baseUrl: string, opts: { timeoutMs: number; connections?: number }): JsonClient {
  const base = new URL(baseUrl);
  const pool = new Pool(base.origin, {
    connections: opts.connections ?? 64,
    // Below the servers' 65 s keep-alive (packages/common/src/http.ts): never reuse a closing socket.
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 30_000,
  });
  return {
    async post(path, body, headers = {}) {
      const res = await pool.request({
        method: 'POST',
        path: new URL(path, base).pathname,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: the caller sees null
      }
      return { status: res.statusCode, body: parsed };
    },
    close: () => pool.close(),
  };
}
