// One allocator per run at a time drains the run's queue in ticket order, a batch per Prisma
// interactive transaction (batch.ts; docs/architecture.md, "The reservation path"), under a
// Redis lease (SET NX PX) and a fencing token. Redis is an accelerator: without it every booking
// instance may drain, and the allocator row's lock serializes them.
import type { PrismaClient } from '@tatkal/db';
import { runsWithQueued } from '../lifecycle/index.ts';
import { type BatchContext, decideNext, LeaseLost } from './batch.ts';
import type { AllocatorDeps } from './deps.ts';

export type { BatchReport } from './batch.ts';
export type { AllocatorDeps } from './deps.ts';

/** The Redis key of a run's allocator lease (tests take it over as another instance would). */
export const allocatorLeaseKey = (runId: string) => `booking:allocator:${runId}`;
/** How long an idle allocator keeps its lease for the next request (other instances wait that long). */
const LINGER_MS = 300;

/** Which runs this process drains, and how a lingering drain is woken. */
interface DrainState {
  ctx: BatchContext;
  draining: Set<string>;
  /** Runs kicked while draining: their drain goes on. */
  again: Set<string>;
  wake: Map<string, (kicked: boolean) => void>;
  closing: boolean;
}

export function createAllocator(deps: AllocatorDeps) {
  const s: DrainState = {
    ctx: { ...deps, waiting: new Map() },
    draining: new Set(),
    again: new Set(),
    wake: new Map(),
    closing: false,
  };
  return {
    /** Makes sure the run's queue is being drained (here, or by the instance holding its lease). */
    kick: (runId: string) => kick(s, runId),
    /** True while this process holds the run's allocator (draining or lingering). */
    isDraining: (runId: string) => s.draining.has(runId),
    /** Runs with queued requests (after a crash or a lost kick): each is kicked. */
    async resume(): Promise<number> {
      const runs = await runsWithQueued(deps.prisma);
      for (const runId of runs) kick(s, runId);
      return runs.length;
    },
    /** Resolves when no run is being drained in this process (tests, shutdown): lingering ends at once. */
    idle: () => idle(s),
  };
}
export type Allocator = ReturnType<typeof createAllocator>;

function kick(s: DrainState, runId: string): void {
  if (s.draining.has(runId)) {
    s.again.add(runId);
    s.wake.get(runId)?.(true);
    return;
  }
  s.draining.add(runId);
  void drain(s, runId).finally(() => {
    s.draining.delete(runId);
    if (s.again.delete(runId)) kick(s, runId);
  });
}

async function idle(s: DrainState): Promise<void> {
  s.closing = true;
  while (s.draining.size > 0) {
    for (const stop of s.wake.values()) stop(false);
    await new Promise((r) => setTimeout(r, 10));
  }
  s.closing = false;
}

/** Takes the run's lease and fence, then decides batches until the queue stays empty a moment. */
async function drain(s: DrainState, runId: string): Promise<void> {
  const { ctx } = s;
  const lease = await ctx.leases.acquire(allocatorLeaseKey(runId));
  if (lease === null) return; // another instance is draining this run
  const fence = lease === 'unavailable' ? null : await takeFence(ctx.prisma, runId);
  const renew = async () => lease === 'unavailable' || (await ctx.leases.renew(lease));
  try {
    for (;;) {
      // A partial batch emptied the queue: stop reading until the next kick.
      while ((await decideNext(ctx, runId, fence)) >= ctx.settings.batchSize) {
        if (!(await renew())) return;
      }
      // In a rush the next requests come within milliseconds: keep the lease and fence a
      // moment for them rather than taking both again for each small batch.
      if (!(await kickedWithin(s, runId, LINGER_MS))) return;
      if (!(await renew())) return;
    }
  } catch (err) {
    if (err instanceof LeaseLost) ctx.logger.warn({ runId }, 'allocator lease lost to a newer holder; stopping');
    else ctx.logger.error({ err, runId }, 'allocator stopped; queued requests wait for the next kick');
  } finally {
    if (lease !== 'unavailable') await ctx.leases.release(lease);
  }
}

/** A new lease holder bumps the fence; a batch of an older holder then finds it changed. */
async function takeFence(prisma: PrismaClient, runId: string): Promise<bigint> {
  const rows = await prisma.$queryRaw<{ fence: bigint }[]>`
    INSERT INTO booking.run_allocators AS a (run_id, fence) VALUES (${runId}::uuid, 1)
    ON CONFLICT (run_id) DO UPDATE SET fence = a.fence + 1, updated_at = now()
    RETURNING fence`;
  return rows[0]!.fence;
}

/** Resolves true when the run is kicked within `ms` (work arrived), false otherwise. */
function kickedWithin(s: DrainState, runId: string, ms: number): Promise<boolean> {
  if (s.closing) return Promise.resolve(false);
  if (s.again.delete(runId)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => s.wake.get(runId)?.(false), ms);
    s.wake.set(runId, (kicked) => {
      clearTimeout(timer);
      s.wake.delete(runId);
      if (kicked) s.again.delete(runId);
      resolve(kicked);
    });
  });
}
