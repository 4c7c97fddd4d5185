// Group commit (groupCommit of @tatkal/common) of queued requests: every request that arrived meanwhile is
// written in one statement (lifecycle's queueRequests); a failed statement is retried by halves, so one bad
// request fails alone. Resolves each request's ticket (null: it joined a waiting room), or
// undefined when its key was taken meanwhile.
import { randomInt } from 'node:crypto';
import type { PrismaClient } from '@tatkal/db';
import { successOutcome, type Idempotency } from '@tatkal/common';
import { type Entry, groupCommit } from '@tatkal/common';
import { type IntakeItem, PnrTaken, queueRequests, type ReserveRecords } from '../lifecycle/index.ts';

/** A request to queue, answered with its ticket (null: in a waiting room; undefined: its key was taken). */
type Pending = Entry<IntakeItem, number | null | undefined>;

/** A PNR: 10 digits, not starting with 0. */
export const newPnr = () => `${randomInt(1, 10)}${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;

export function createIntake(deps: {
  prisma: PrismaClient;
  idempotency: Idempotency;
  records: ReserveRecords;
  batchSize: number;
  /** The clock waiting rooms open by. */
  now: () => Date;
  /** After each statement: the runs that got new requests (their allocators are kicked). */
  onWritten: (runIds: Set<string>) => void;
}) {
  const writes = groupCommit<IntakeItem, number | null | undefined>(
    () => deps.batchSize,
    async (batch) => {
      await writeByHalves(batch);
      deps.onWritten(new Set(batch.map((p) => p.item.view.runId)));
    },
  );

  async function writeByHalves(batch: Pending[], pnrRetry = false): Promise<void> {
    try {
      const tickets = await queueRequests(
        deps.prisma,
        deps.idempotency,
        batch.map((p) => p.item),
        deps.now(),
      );
      // A retry of a queued key must find its reservation, not a refusal from memory: mark the
      // key pending in Redis too.
      await Promise.all(
        batch
          .filter((p) => tickets.has(p.item.view.id))
          .map((p) =>
            deps.records.cache(
              p.item.userId,
              p.item.idempotency.key,
              p.item.idempotency.requestHash,
              successOutcome(p.item.view),
            ),
          ),
      );
      for (const p of batch) p.resolve(tickets.has(p.item.view.id) ? tickets.get(p.item.view.id) : undefined);
    } catch (err) {
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await writeByHalves(batch.slice(0, half));
        await writeByHalves(batch.slice(half));
      } else if (err instanceof PnrTaken && !pnrRetry) {
        // Two random PNRs met: draw another (the only input a request does not choose itself).
        batch[0]!.item.view.pnr = newPnr();
        await writeByHalves(batch, true);
      } else {
        batch[0]!.reject(err);
      }
    }
  }

  return {
    /** Queues the request; resolves its ticket (null: in a waiting room; undefined: another request took its key). */
    enqueue: writes.submit,
    /** Resolves when nothing is waiting to be written. */
    drained: writes.drained,
  };
}
export type Intake = ReturnType<typeof createIntake>;
