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

/** The stack's RabbitMQ connections (found by their client ports): the broker's pid of each. */
async function stackAmqpConnections(stack: ChaosStack): Promise<string[]> {
  const pids = stack
    .names()
    .map((n) => stack.process(n)?.pid)
    .filter((p): p is number => p !== undefined);
  const ours = localPortsOf(pids);
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'peer_port']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 2 && ours.has(Number(f[1])))
    .map((f) => f[0]!);
}

/** Closes the stack's RabbitMQ connections, or every one with `all`. */
export async function closeAmqpConnections(stack: ChaosStack, all: boolean): Promise<string> {
  if (all) {
    await run('rabbitmqctl', ['close_all_connections', 'chaos run']);
    return 'all connections on the broker';
  }
  const targets = await stackAmqpConnections(stack);
  await Promise.all(targets.map((pid) => run('rabbitmqctl', ['close_connection', pid, 'chaos run'])));
  return `${targets.length} connections of the stack`;
}

/** How far a phase's client operations have got: faults fire at a share of them. */
export interface PhaseProgress {
  done: number;
  total: number;
  started: boolean;
  ended: boolean;
}

export interface InjectorContext {
  plan: PlannedFault[];
  stack: ChaosStack;
  progress: Record<Phase, PhaseProgress>;
  watcher: pg.Pool;
  redis: Redis;
  runId: string;
  /** A request through the gateway that needs booking, and one that needs payment. */
  probes: { booking: () => Promise<unknown>; payment: () => Promise<unknown> };
  /** Milliseconds since the run's start. */
  now: () => number;
  closeAllAmqp: boolean;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fires each planned fault once its phase has reached its point, and records how long until the
 * system was whole again; kills of one process wait for the previous one's recovery. `finish()`
 * stops firing (the workload is over) and waits until every fired fault has recovered.
 */
export function startFaultInjector(ctx: InjectorContext): { faults: FaultRecord[]; finish: () => Promise<void> } {
  const faults: FaultRecord[] = [];
  const busy = new Map<string, Promise<void>>();
  let over = false;
  const reached = (f: PlannedFault) => {
    const p = ctx.progress[f.phase];
    return p.ended || (p.started && p.done >= f.at * p.total);
  };
  const fire = async (f: PlannedFault) => {
    const rec: FaultRecord = { ...f, firedAtMs: ctx.now(), detail: '', readyMs: null, healthyMs: null };
    faults.push(rec);
    try {
      if (f.kind === 'close-amqp') await closeAmqp(ctx, rec);
      else {
        const name = f.kind === 'kill-leaseholder' ? await leaseholderOf(ctx, rec) : f.target!;
        const job = (async () => {
          await busy.get(name);
          await killAndRestart(ctx, rec, name);
        })();
        busy.set(name, job);
        await job;
      }
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
    }
    ctx.log(
      `fault ${f.kind} ${rec.target ?? ''} at ${(rec.firedAtMs / 1000).toFixed(1)} s ` +
        `(${f.phase} ${Math.round(f.at * 100)}%): ${rec.detail}; ready ${rec.readyMs ?? '-'} ms, ` +
        `healthy ${rec.healthyMs ?? '-'} ms${rec.error ? `; ${rec.error}` : ''}`,
    );
  };
  const loop = (async () => {
    const pending = [...ctx.plan];
    const fired: Promise<void>[] = [];
    while (pending.length > 0 && !over) {
      for (const f of pending.filter(reached)) {
        pending.splice(pending.indexOf(f), 1);
        fired.push(fire(f));
      }
      await sleep(50);
    }
    await Promise.all(fired);
  })();
  return {
    faults,
    finish: async () => {
      over = true;
      await loop;
    },
  };
}

/** Healthy: the stack's processes have connected again (as many connections as before). */
async function closeAmqp(ctx: InjectorContext, rec: FaultRecord): Promise<void> {
  const before = (await stackAmqpConnections(ctx.stack)).length;
  rec.detail = await closeAmqpConnections(ctx.stack, ctx.closeAllAmqp);
  for (const deadline = Date.now() + 120_000; (await stackAmqpConnections(ctx.stack)).length < before; await sleep(250))
    if (Date.now() > deadline) throw new Error(`fewer than ${before} RabbitMQ connections after 120 s`);
  rec.healthyMs = ctx.now() - rec.firedAtMs;
}

/** The allocator's leaseholder at the moment the fault fires (booking-1 when none is seen). */
async function leaseholderOf(ctx: InjectorContext, rec: FaultRecord): Promise<string> {
  const found = await findLeaseholder(ctx.watcher, ctx.redis, ctx.runId, ctx.stack);
  rec.detail = found ? `leaseholder ${found}` : 'no leaseholder seen: booking-1';
  rec.target = found ?? 'booking-1';
  return rec.target;
}

/**
 * kill -9, down for the drawn time, started again: ready when it answers, healthy when a request
 * through the gateway that needs it does.
 */
async function killAndRestart(ctx: InjectorContext, rec: FaultRecord, name: string): Promise<void> {
  await ctx.stack.kill(name);
  rec.detail ||= `kill -9 ${name}`;
  await sleep(rec.downMs);
  await ctx.stack.restart(name);
  rec.readyMs = ctx.now() - rec.firedAtMs;
  for (const deadline = Date.now() + 120_000; ; ) {
    try {
      if (!name.startsWith('payment')) await ctx.probes.booking();
      if (!name.startsWith('booking')) await ctx.probes.payment();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
  rec.healthyMs = ctx.now() - rec.firedAtMs;
}
