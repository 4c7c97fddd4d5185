// The load side of the benchmarks: a fixed number of tasks with a bounded number in flight, each
// timed request recorded as a Sample, one way of telling a GraphQL answer's outcome, and the
// reservation requests both the Tatkal and the gateway benchmark send.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Sample } from './report.ts';

export interface GraphQLAnswer<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

// node:http over one keep-alive agent, not fetch: undici's fetch costs the load generator (on the
// same two cores as the system it measures) about twice the CPU per request.
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity });

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const tls = url.startsWith('https:');
    const req = (tls ? httpsRequest : request)(url, { method: 'POST', agent: tls ? httpsAgent : agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs a GraphQL body; the outcome is the first error's code, HTTP_<status> or NETWORK_<error>, else null (the caller names success). */
export async function postGraphQL<T>(url: string, body: string, token?: string, headers: Record<string, string> = {}): Promise<{ answer: GraphQLAnswer<T> | null; error: string | null }> {
  try {
    const res = await post(url, body, { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers });
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
export async function runPool(count: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return next;
}

export const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) { reserveSeats(input: $input, idempotencyKey: $key) { id pnr status queuePosition estimatedWaitSeconds passengers { coach berth } } }`;

/** A QUEUED reservation's poll (docs/api.md): its status until the allocator decides it. */
export const RESERVATION = `query($pnr: String!) { reservation(pnr: $pnr) { id pnr status refusalCode queuePosition estimatedWaitSeconds passengers { coach berth } } }`;

export interface ReservationAnswer {
  id: string;
  pnr: string;
  status: string;
  refusalCode?: string | null;
  queuePosition?: number | null;
  estimatedWaitSeconds?: number | null;
  passengers: unknown[];
}

/**
 * Follows a QUEUED reservation as a front end would: polls reservation(pnr), waiting about half
 * the estimated wait between polls (at least 250 ms, at most 2 s), until its status is final or
 * `deadline` (epoch ms) passes. Returns the last answer, or the error code of a failed poll.
 */
export async function followQueued(url: string, first: ReservationAnswer, token: string, deadline: number): Promise<ReservationAnswer | string> {
  let last = first;
  while (last.status === 'QUEUED') {
    if (Date.now() > deadline) return last;
    const waitMs = Math.min(2_000, Math.max(250, ((last.estimatedWaitSeconds ?? 1) * 1000) / 2));
    await new Promise((r) => setTimeout(r, waitMs));
    const { answer, error } = await postGraphQL<{ reservation: ReservationAnswer }>(url, JSON.stringify({ query: RESERVATION, variables: { pnr: first.pnr } }), token);
    if (error) return error;
    last = answer!.data!.reservation;
  }
  return last;
}

/**
 * User i's reserveSeats body on a test run (createTestRun: four stops, booked end to end), with a
 * fresh idempotency key. The mix: group sizes 1,1,1,2,2,3,4; berth preferences; one in three
 * refuses the waitlist. bench/sql/reserve.pgbench draws the same mix.
 */
export function reserveBody(i: number, run: { runId: string; stations: string[] }): string {
  const prefs = ['LB', 'MB', 'UB', 'SL', 'SU', null];
  const size = [1, 1, 1, 2, 2, 3, 4][i % 7]!;
  return JSON.stringify({
    query: RESERVE,
    variables: {
      key: randomUUID(),
      input: {
        runId: run.runId,
        from: run.stations[0],
        to: run.stations[3],
        class: 'SLEEPER',
        allowWaitlist: i % 3 !== 0,
        passengers: Array.from({ length: size }, (_, p) => ({ name: `Traveller ${String.fromCharCode(65 + (p % 26))}`, age: 20 + ((i + p) % 50), gender: p % 2 ? 'FEMALE' : 'MALE', berthPreference: prefs[(i + p) % prefs.length] })),
      },
    },
  });
}
