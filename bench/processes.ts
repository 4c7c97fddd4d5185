// What the benchmarks measure of processes: CPU from /proc (a service and its children, or every
// process of a command name such as postgres), and the open-files limit. Starting processes is
// packages/testkit/src/processes.ts (the tests start processes too).
import { readdirSync, readFileSync } from 'node:fs';
import { childrenOf, type RunningProcess } from '../packages/testkit/src/processes.ts';

/** /proc/<pid>/stat: command name and CPU ticks (own user+system, and of reaped children). */
function procStat(pid: number): { comm: string; own: number; reaped: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5): utime, stime, cutime, cstime, in clock ticks (100 per second).
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return null; // exited
  }
}

/** CPU seconds (user + system) used so far by a process and its descendants (tsx runs node as a child), from /proc. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...childrenOf(pid).flatMap((c) => [c, ...childrenOf(c)])]) ticks += procStat(p)?.own ?? 0;
  return ticks / 100;
}

/**
 * CPU seconds used so far by every process with one of these command names (postgres,
 * redis-server, beam.smp), whoever started them. A PostgreSQL backend that exits moves its time
 * into the postmaster's reaped-children counter, so the sum keeps growing across connections.
 */
export function commandCpuSeconds(commands: string[]): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(commands.map((c) => [c, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.comm in totals) totals[stat.comm]! += (stat.own + stat.reaped) / 100;
  }
  return totals;
}

/** The soft limit on open files of this process (its children inherit it), from /proc/self/limits. */
export function openFilesLimit(): number {
  try {
    return Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** CPU seconds used so far by each process, by name (subtract two readings with cpuDelta). */
export function processCpu(processes: RunningProcess[]): Record<string, number> {
  return Object.fromEntries(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
}

export function cpuDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v - (before[k] ?? 0)).toFixed(2)]));
}

/** Not the product: the load generator and the payment provider's simulator. */
const NOT_PRODUCT = new Set(['bench client', 'provider']);

/** CPU ms per unit of work by process, and the product's sum (every process but the bench's and the provider's). */
export function cpuPerUnit(cpu: Record<string, number> | null, units: number) {
  if (!cpu || units <= 0) return null;
  const byProcess = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, +((v * 1000) / units).toFixed(2)]));
  const product = Object.entries(cpu).reduce((sum, [k, v]) => (NOT_PRODUCT.has(k) ? sum : sum + v), 0);
  return { productMs: +((product * 1000) / units).toFixed(2), byProcess };
}
