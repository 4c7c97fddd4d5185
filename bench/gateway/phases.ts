// One measured phase of the gateway benchmark (a workload through one variant), and the summary of
// every variant's phases over all rounds.
import type { RunningProcess } from '../../packages/testkit/src/processes.ts';
import { Recorder, runPool } from '../load.ts';
import { commandCpuSeconds, cpuDelta, processCpu } from '../processes.ts';
import { latencySummary, outcomeCounts, type LatencySummary } from '../report.ts';
import { args, CONCURRENCY, SYSTEM_PROCESSES } from './options.ts';
import type { Gateway, Workload } from './workloads.ts';

export interface PhaseResult {
  workload: string;
  gateway: string;
  round: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  outcomes: Record<string, number>;
  errors: number;
  cpuSeconds: Record<string, number>;
  gatewayCpuMsPerRequest: number;
}

/** Every latency of each reported phase, for percentiles over all rounds together. */
const latencies = new Map<PhaseResult, number[]>();

/** `count` requests of `workload` through `gateway`; round 0 is the warm-up (not printed). */
export async function runPhase(
  workload: Workload,
  gateway: Gateway,
  count: number,
  round: number,
  processes: RunningProcess[],
): Promise<PhaseResult> {
  const prepared = await workload.prepare(count);
  const cpuBefore = { ...processCpu(processes), ...commandCpuSeconds(SYSTEM_PROCESSES) };
  const rec = new Recorder();
  await runPool(count, CONCURRENCY, Date.now() + Number(args['timeout-s']) * 1000, async (i) => {
    await rec.time(workload.name, () => prepared.send(gateway, i));
  });
  const seconds = rec.now() / 1000;
  const cpuSeconds = cpuDelta({ ...processCpu(processes), ...commandCpuSeconds(SYSTEM_PROCESSES) }, cpuBefore);
  const outcomes = outcomeCounts(rec.samples);
  const errors = rec.samples.filter((s) => !workload.success.includes(s.outcome)).length;
  const result: PhaseResult = {
    workload: workload.name,
    gateway: gateway.name,
    round,
    requests: rec.samples.length,
    seconds: +seconds.toFixed(2),
    requestsPerSecond: +(rec.samples.length / seconds).toFixed(1),
    latencyMs: latencySummary(rec.samples.map((s) => s.ms)),
    outcomes,
    errors,
    cpuSeconds,
    gatewayCpuMsPerRequest: +(((cpuSeconds[gateway.process.name] ?? 0) * 1000) / rec.samples.length).toFixed(3),
  };
  latencies.set(
    result,
    rec.samples.map((s) => s.ms),
  );
  if (round > 0)
    console.log(
      `${workload.name} via ${gateway.name}, round ${round}: ${result.requestsPerSecond} req/s, ` +
        `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ${errors} errors`,
    );
  return result;
}

/** Per workload and variant, over every round: requests/s, latency percentiles, gateway CPU. */
export function summarize(workloads: Workload[], gateways: Gateway[], phases: PhaseResult[]) {
  return workloads.flatMap((w) =>
    gateways.map((g) => {
      const mine = phases.filter((p) => p.workload === w.name && p.gateway === g.name);
      const requests = mine.reduce((n, p) => n + p.requests, 0);
      const gatewayCpu = mine.reduce((n, p) => n + (p.cpuSeconds[g.process.name] ?? 0), 0);
      return {
        workload: w.name,
        gateway: g.name,
        requests,
        requestsPerSecond: +(requests / mine.reduce((n, p) => n + p.seconds, 0)).toFixed(1),
        latencyMs: latencySummary(mine.flatMap((p) => latencies.get(p)!)),
        errors: mine.reduce((n, p) => n + p.errors, 0),
        gatewayCpuSeconds: +gatewayCpu.toFixed(2),
        gatewayCpuMsPerRequest: +((gatewayCpu * 1000) / requests).toFixed(3),
      };
    }),
  );
}
