// searchStations latency and throughput on the seeded network, PostgreSQL backend. Self-contained:
// builds its own database (tatkal_bench_search: migrate + seed), starts the real auth, booking,
// search and gateway processes on free loopback ports, then sends a fixed mix of real queries
// (the search contract's station queries) first straight to the search subgraph, then through
// the gateway. Bounded by --requests and --timeout-s; loopback only; stops everything it started.
//
//   npm run bench:search -- --requests 3000 --concurrency 16
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTRACT } from '../packages/testkit/src/searchContract.ts';
import { startProcess, type RunningProcess } from '../packages/testkit/src/processes.ts';
import { adminQuery, createBenchDatabase } from './database.ts';
import { cpuSeconds } from './processes.ts';
import { SERVICE_ARGS } from './stack.ts';
import { percentile } from './report.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '200' },
    'timeout-s': { type: 'string', default: '120' },
    ...SERVICE_ARGS,
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const WARMUP = Number(args.warmup);
const DB = 'tatkal_bench_search';
const QUERIES = CONTRACT.filter((c) => c.kind === 'stations').map((c) => c.query);
const QUERY = `query($q: String!) {
  searchStations(query: $q, first: 10) { score station { code } highlights { field start length } }
}`;

const admin = (sql: string) => adminQuery(args.pg, sql);

interface PhaseResult {
  target: string;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  errors: number;
  cpuSeconds: Record<string, number>;
}

/** `count` requests, `CONCURRENCY` in flight, cycling through the query mix; stops at the deadline. */
async function phase(target: string, url: string, count: number, processes: RunningProcess[]): Promise<PhaseResult> {
  const bodies = QUERIES.map((q) => JSON.stringify({ query: QUERY, variables: { q } }));
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const cpuBefore = Object.fromEntries(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
  const deadline = Date.now() + Number(args['timeout-s']) * 1000;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      const start = performance.now();
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bodies[i % bodies.length],
        });
        const json = (await res.json()) as { data?: { searchStations?: unknown[] }; errors?: unknown[] };
        if (!res.ok || json.errors || !Array.isArray(json.data?.searchStations)) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    target,
    requests: latencies.length,
    seconds: +seconds.toFixed(2),
    requestsPerSecond: +(latencies.length / seconds).toFixed(1),
    latencyMs: {
      p50: +percentile(sorted, 50).toFixed(2),
      p95: +percentile(sorted, 95).toFixed(2),
      p99: +percentile(sorted, 99).toFixed(2),
      max: +(sorted.at(-1) ?? 0).toFixed(2),
    },
    errors,
    cpuSeconds: Object.fromEntries(
      processes.map((p) => [p.name, +(cpuSeconds(p.pid) - cpuBefore[p.name]!).toFixed(1)]),
    ),
  };
}

async function main() {
  const started = new Date();
  console.log(
    `search bench: ${REQUESTS} searchStations requests per phase, ${CONCURRENCY} in flight, ` +
      `${QUERIES.length} distinct queries`,
  );
  // Runs are irrelevant to station search: two days keep the seed short.
  const dbUrl = new URL(await createBenchDatabase(args.pg, DB, { seedRunDays: 2 }));

  const keysDir = mkdtempSync(join(tmpdir(), 'tatkal-bench-search-'));
  const common = {
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: args.redis,
    AMQP_URL: args.amqp,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    EVENTS_ENABLED: 'false',
    // Search is also called directly here (its own cost), without the gateway's signature.
    REQUIRE_GATEWAY_SIGNATURE: 'false',
  };
  const processes: RunningProcess[] = [];
  try {
    const auth = await startProcess('auth', 'subgraphs/auth/src/index.ts', {
      ...common,
      AUTH_SIGNING_KEYS_FILE: join(keysDir, 'keys.json'),
      AUTH_GENERATE_KEYS: 'true',
    });
    processes.push(auth);
    const jwks = { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` };
    const booking = await startProcess('booking', 'subgraphs/booking/src/index.ts', {
      ...common,
      ...jwks,
      SWEEP_INTERVAL_MS: '0',
      INVENTORY_HORIZON_DAYS: '0',
    });
    processes.push(booking);
    const search = await startProcess('search', 'subgraphs/search/src/index.ts', { ...common, ...jwks });
    processes.push(search);
    const gateway = await startProcess('gateway', 'gateway/src/index.ts', {
      ...common,
      ...jwks,
      SUPERGRAPH_PATH: join(root, 'supergraph.graphql'),
      AUTH_URL: `${auth.url}/graphql`,
      BOOKING_URL: `${booking.url}/graphql`,
      SEARCH_URL: `${search.url}/graphql`,
      // One client address sends everything here: the per-IP limit must not be what is measured.
      RATE_LIMIT_IP: '1000000/1m',
      RATE_LIMIT_PREFIX: `rl:bench-search:${Date.now()}:`,
      // The same query text goes to search directly and through the gateway: any operation runs.
      TRUSTED_DOCUMENTS_ONLY: 'false',
    });
    processes.push(gateway);

    // Warm-up: connection pools, query plans, JIT.
    await phase('warm-up', `${gateway.url}/graphql`, WARMUP, processes);
    await phase('warm-up', `${search.url}/graphql`, WARMUP, processes);

    const direct = await phase('search subgraph (direct)', `${search.url}/graphql`, REQUESTS, processes);
    const viaGateway = await phase('gateway', `${gateway.url}/graphql`, REQUESTS, processes);
    const report = {
      startedAt: started.toISOString(),
      cores: cpus().length,
      backend: 'postgres',
      concurrency: CONCURRENCY,
      queries: QUERIES.length,
      phases: [direct, viaGateway],
    };
    const lines = [
      `# Search bench ${report.startedAt}`,
      '',
      `searchStations(first: 10), PostgreSQL pg_trgm backend, ${QUERIES.length} distinct queries cycled, ` +
        `${CONCURRENCY} in flight, ${report.cores} cores, loopback`,
      '',
      `| target | requests | wall s | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU s by process |`,
      `|---|---|---|---|---|---|---|---|---|---|`,
      ...report.phases.map((p) => {
        const cpu = Object.entries(p.cpuSeconds)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        const l = p.latencyMs;
        return (
          `| ${p.target} | ${p.requests} | ${p.seconds} | ${p.requestsPerSecond} | ` +
          `${l.p50} | ${l.p95} | ${l.p99} | ${l.max} | ${p.errors} | ${cpu} |`
        );
      }),
    ];
    console.log(lines.join('\n'));
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const file = join(root, 'bench/results', `search-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2));
    console.log(`\nwritten to ${file}`);
    if (report.phases.some((p) => p.errors > 0)) process.exitCode = 1;
  } finally {
    for (const p of processes.reverse()) await p.stop();
    rmSync(keysDir, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => {});
  }
}

main().catch((err: unknown) => {
  console.error(`search bench: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
