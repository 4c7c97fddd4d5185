// V8 flags of every service process: `npm start` (scripts/dev.ts) and the benchmarks pass them in
// NODE_OPTIONS; the Dockerfile sets the same (test/docker-compose.test.ts compares).
//
// A larger young generation (V8's default semi-space on 64-bit is 16 MiB). In a rush a request's
// objects live as long as it waits, seconds with 2,000 in flight, so with the default they
// survive two scavenges, are promoted, and cost full mark-compacts later. bench:tatkal A/B (4,000
// users, 1,000 in flight, alternating runs): CPU per attempt -15% in booking and -12% in the
// gateway, responses/s 112 and 120 vs 103 and 95. Memory: up to 3 x 64 MiB more per process.
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=64';

/** NODE_OPTIONS for a service process: the caller's own, then ours. */
export const serviceNodeOptions = (own = process.env.NODE_OPTIONS) =>
  [own, SERVICE_NODE_OPTIONS].filter(Boolean).join(' ');
