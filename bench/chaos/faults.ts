// The fault schedule (drawn from the seed) and its injection. A fault fires at a point of a
// phase's progress (a share of its client operations answered), so the same seed hits the same
// moments of the workload whatever the machine's speed. Kills are kill -9 of the process tree;
// the process is started again on its port after a drawn downtime, as a supervisor would.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { Redis } from '@tatkal/common';
import { allocatorLeaseKey } from '../../subgraphs/booking/src/domain/allocator/allocator.ts';
import { seededRandom } from '../../packages/testkit/src/random.ts';
import { localPortsOf } from '../../packages/testkit/src/processes.ts';
import type { ChaosStack } from './stack.ts';

const run = promisify(execFile);

export type Phase = 'rush' | 'pay' | 'cancel';
export type FaultKind = 'kill' | 'kill-leaseholder' | 'close-amqp';

export interface PlannedFault {
  phase: Phase;
  /** Share of the phase's operations answered when it fires. */
  at: number;
  kind: FaultKind;
  /** The process killed ('booking-1', 'payment-2', 'gateway'); for kill-leaseholder decided when it fires. */
  target: string | null;
  /** How long the killed process stays down before it is started again. */
  downMs: number;
}

export interface FaultRecord extends PlannedFault {
  /** Milliseconds since the run's start. */
  firedAtMs: number;
  /** What was actually hit (the leaseholder found, the connections closed). */
  detail: string;
  /** From the fault to the process answering /ready again (kills). */
  readyMs: number | null;
  /** From the fault to the first request through the gateway that needed the process succeeding. */
  healthyMs: number | null;
  error?: string;
}

/**
 * `count` faults over the three phases: the allocator's leaseholder once in the rush, every
 * RabbitMQ connection closed once, the gateway, then booking and payment instances at random.
 */
export function planFaults(seed: number, count: number): PlannedFault[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const phases: Phase[] = ['rush', 'pay', 'cancel'];
  const downMs = () => Math.round(300 + random() * 2_700);
  const at = () => +(0.1 + random() * 0.75).toFixed(3);
  const plan: PlannedFault[] = [
    {
      phase: 'rush',
      // Early: once the run is sold out, newcomers are refused from memory and no one holds the lease.
      at: +(0.03 + random() * 0.12).toFixed(3),
      kind: 'kill-leaseholder',
      target: null,
      downMs: downMs(),
    },
    { phase: pick(['pay', 'cancel'] as const), at: at(), kind: 'close-amqp', target: null, downMs: 0 },
    { phase: pick(phases), at: at(), kind: 'kill', target: 'gateway', downMs: downMs() },
    { phase: 'pay', at: at(), kind: 'kill', target: pick(['payment-1', 'payment-2']), downMs: downMs() },
  ];
  const targets = ['booking-1', 'booking-2', 'payment-1', 'payment-2', 'gateway'];
  while (plan.length < count)
    plan.push({ phase: pick(phases), at: at(), kind: 'kill', target: pick(targets), downMs: downMs() });
  return plan.slice(0, Math.max(count, 0));
}

/**
 * The booking instance holding the run's allocator lease: while the lease key is in Redis, the
 * instance whose database session ran the allocator's statements (the fence, the batch) in the
 * last second. Looked for up to `withinMs` (the lease is held while the queue is drained).
 */
export async function findLeaseholder(
  watcher: pg.Pool,
  redis: Redis,
  runId: string,
  stack: ChaosStack,
  withinMs = 5_000,
): Promise<string | null> {
  const deadline = Date.now() + withinMs;
  do {
    if (await redis.exists(allocatorLeaseKey(runId))) {
      const { rows } = await watcher.query<{ port: number }>(
        `SELECT client_port AS port FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE '%booking.run_allocators%'
            AND query NOT LIKE '%pg_stat_activity%'
            AND (state = 'active' OR query_start > now() - interval '1 second')
          ORDER BY query_start DESC LIMIT 1`,
      );
      for (const name of ['booking-1', 'booking-2']) {
        const p = stack.process(name);
        if (p && rows[0] && localPortsOf([p.pid]).has(rows[0].port)) return name;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < deadline);
  return null;
}

/** Closes the stack's RabbitMQ connections (found by their client ports), or every one with `all`. */
export async function closeAmqpConnections(stack: ChaosStack, all: boolean): Promise<string> {
  if (all) {
    await run('rabbitmqctl', ['close_all_connections', 'chaos run']);
    return 'all connections on the broker';
  }
  const pids = stack
    .names()
    .map((n) => stack.process(n)?.pid)
    .filter((p): p is number => p !== undefined);
  const ours = localPortsOf(pids);
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'peer_port']);
  const targets = stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 2 && ours.has(Number(f[1])))
    .map((f) => f[0]!);
  await Promise.all(targets.map((pid) => run('rabbitmqctl', ['close_connection', pid, 'chaos run'])));
  return `${targets.length} connections of the stack`;
}
