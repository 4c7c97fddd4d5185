// The load side of the benchmarks: a fixed number of tasks with a bounded number in flight, each
// timed request recorded as a Sample, one way of telling a GraphQL answer's outcome, the typed
// client (@tatkal/client) over a cheap transport, and the reservations both the Tatkal and the
// gateway benchmark make.
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TatkalClient, TatkalError, type ReserveSeatsInput } from '@tatkal/client';
import type { Sample } from './report.ts';

export interface GraphQLAnswer<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

// node:http over one keep-alive agent, not fetch: undici's fetch costs the load generator (on the
// same two cores as the system it measures) about twice the CPU per request.
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity });

function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const tls = url.startsWith('https:');
    const req = (tls ? httpsRequest : request)(
      url,
      {
        method: 'POST',
        agent: tls ? httpsAgent : agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const kept: Record<string, string> = {};
          for (const name of ['content-type', 'retry-after'])
            if (typeof res.headers[name] === 'string') kept[name] = res.headers[name];
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: kept });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A fetch for graphql-request (the @tatkal/client transport) over the same node:http keep-alive
 * agent: POST only, the body a string, and just what graphql-request reads of the response.
 */
export const httpFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const headers = Object.fromEntries(new Headers(init?.headers).entries());
  const res = await post(String(input), String(init?.body ?? ''), headers);
  return {
    ok: res.status >= 200 && res.status < 300,
    status: res.status,
    headers: new Headers(res.headers),
    text: async () => res.text,
  } as unknown as Response;
}) as typeof fetch;

/**
 * A @tatkal/client for one user (or anonymous) that never retries or polls by itself: the bench
 * counts every request.
 */
export function benchClient(url: string, documents: 'hash' | 'text', accessToken?: string): TatkalClient {
  return new TatkalClient({
    url,
    documents,
    fetch: httpFetch,
    session: accessToken ? { accessToken } : null,
    retry: { attempts: 1 },
  });
}

/**
 * A reservation's outcome as the bench counts it: a hold is HELD (berths), RAC or WAITLISTED by
 * what its passengers got (a group is decided whole); other statuses as they are.
 */
export function outcomeOfHold(r: { status: string; passengers: { status: string }[] }): string {
  if (r.status !== 'HELD') return r.status;
  const p = r.passengers[0]?.status;
  return p === 'RAC' || p === 'WAITLISTED' ? p : 'HELD';
}

/** The outcome of a failed client call, as postGraphQL names it: the error code, HTTP_<status> or NETWORK_<error>. */
export function outcomeOf(err: unknown): string {
  if (err instanceof TatkalError) return err.code;
  return `NETWORK_${(err as Error).name}`;
}

/**
 * POSTs a GraphQL body; the outcome is the first error's code, HTTP_<status> or NETWORK_<error>,
 * else null (the caller names success).
 */
export async function postGraphQL<T>(
  url: string,
  body: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ answer: GraphQLAnswer<T> | null; error: string | null }> {
  try {
    const res = await post(url, body, {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    });
    let answer: GraphQLAnswer<T> | null = null;
    try {
      answer = JSON.parse(res.text) as GraphQLAnswer<T>;
    } catch {
      return { answer: null, error: `HTTP_${res.status}` };
    }
    if (answer.errors?.length) return { answer, error: answer.errors[0]!.extensions?.code ?? 'GRAPHQL_ERROR' };
    if (res.status < 200 || res.status >= 300) return { answer, error: `HTTP_${res.status}` };
    return { answer, error: null };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { answer: null, error: `NETWORK_${code ?? (err as Error).name}` };
  }
}

/** Collects samples against one t0. */
export class Recorder {
  readonly samples: Sample[] = [];
  readonly t0 = performance.now();
  /** Wall-clock epoch of t0, to line samples up with database timestamps. */
  readonly epoch0 = Date.now();

  /** Runs `fn`, records its latency under `op` with the outcome it returns, and passes the outcome on. */
  async time(op: string, fn: () => Promise<string>): Promise<string> {
    const start = performance.now();
    const outcome = await fn();
    this.samples.push({ op, start: start - this.t0, ms: performance.now() - start, outcome });
    return outcome;
  }

  /** Milliseconds since t0 now. */
  now(): number {
    return performance.now() - this.t0;
  }

  of(op: string): Sample[] {
    return this.samples.filter((s) => s.op === op);
  }
}

/**
 * Runs task(0..count-1) with at most `concurrency` in flight; no new task starts after
 * `deadline` (epoch ms). Returns how many were started.
 */
export async function runPool(
  count: number,
  concurrency: number,
  deadline: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return next;
}

/**
 * User i's reserveSeats input on a test run (createTestRun: four stops, booked end to end). The
 * mix: group sizes 1,1,1,2,2,3,4; berth preferences; one in three refuses the waitlist.
 * bench/sql/reserve.pgbench draws the same mix.
 */
export function reserveInput(i: number, run: { runId: string; stations: string[] }): ReserveSeatsInput {
  const prefs = ['LB', 'MB', 'UB', 'SL', 'SU', null] as const;
  const size = [1, 1, 1, 2, 2, 3, 4][i % 7]!;
  return {
    runId: run.runId,
    from: run.stations[0]!,
    to: run.stations[3]!,
    class: 'SLEEPER',
    allowWaitlist: i % 3 !== 0,
    passengers: Array.from({ length: size }, (_, p) => ({
      name: `Traveller ${String.fromCharCode(65 + (p % 26))}`,
      age: 20 + ((i + p) % 50),
      gender: p % 2 ? 'FEMALE' : 'MALE',
      berthPreference: prefs[(i + p) % prefs.length],
    })),
  };
}
