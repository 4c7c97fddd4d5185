// A run's allocator progress as this process knows it (its own allocator's, else Redis's copy,
// else the database's), and the queue place it gives a ticket.
import type { PrismaClient } from '@tatkal/db';
import type { Redis } from '@tatkal/common';
import type { BatchReport } from '../allocator/allocator.ts';

export interface Progress {
  done: number;
  /** Requests decided per second, smoothed. */
  rate: number;
}

export interface QueuePlace {
  queuePosition: number;
  estimatedWaitSeconds: number;
}

const redisKey = (runId: string) => `booking:progress:${runId}`;

export function createProgress(prisma: PrismaClient, redis: Redis | null, batchSize: number) {
  const mine = new Map<string, Progress & { at: number }>();
  const reads = new Map<string, Promise<Progress>>();

  /** After a batch of this process's allocator: the progress here and, for other instances, in Redis. */
  function record(report: BatchReport) {
    const before = mine.get(report.runId);
    const rate = (report.decided.length / Math.max(report.ms, 1)) * 1000;
    const smoothed = before && Date.now() - before.at < 5_000 ? before.rate * 0.7 + rate * 0.3 : rate;
    mine.set(report.runId, { done: report.doneTicket, rate: smoothed, at: Date.now() });
    redis?.set(redisKey(report.runId), `${report.doneTicket}|${smoothed.toFixed(1)}`, 'PX', 60_000).catch(() => {});
  }

  /** Read once per run at a time and kept 100 ms (a rush asks it for every request). */
  function of(runId: string): Promise<Progress> {
    const known = mine.get(runId);
    if (known && Date.now() - known.at < 2_000) return Promise.resolve(known);
    let read = reads.get(runId);
    if (!read) {
      read = readShared(runId, known?.rate ?? 0);
      reads.set(runId, read);
      read.finally(() => setTimeout(() => reads.delete(runId), 100).unref()).catch(() => reads.delete(runId));
    }
    return read;
  }

  async function readShared(runId: string, rate: number): Promise<Progress> {
    const raw = await redis?.get(redisKey(runId)).catch(() => null);
    if (raw) {
      const [done, shared] = raw.split('|').map(Number);
      return { done: done!, rate: shared! };
    }
    const rows = await prisma.$queryRaw<{ done_ticket: number }[]>`
      SELECT done_ticket FROM booking.run_allocators WHERE run_id = ${runId}::uuid`;
    return { done: rows[0]?.done_ticket ?? 0, rate };
  }

  /** Requests ahead of this ticket (itself included) and the seconds they should take. */
  async function place(runId: string, ticket: number): Promise<QueuePlace> {
    const { done, rate } = await of(runId);
    const queuePosition = Math.max(1, ticket - done);
    // Before the first batch no rate is known: a batch a second is the guess.
    return { queuePosition, estimatedWaitSeconds: Math.ceil(queuePosition / (rate > 0 ? rate : batchSize)) };
  }

  return { record, of, place };
}
export type QueueProgress = ReturnType<typeof createProgress>;
