// Per-process cache of what does not change while people book: a train's stops, coaches and
// berths. The reservation path reads it instead of querying the same rows thousands of times.
import type { BerthType, PrismaClient, Quota, TrainRun, TravelClass } from '@tatkal/db';
import type { StopWithStation } from './network.ts';

export interface SeatInfo {
  seatId: number;
  coach: string;
  number: number;
  berthType: BerthType;
  class: TravelClass;
}

export interface TrainLayout {
  trainId: number;
  /** Superfast trains' fares carry the superfast surcharge. */
  superfast: boolean;
  stops: StopWithStation[];
  classes: Set<TravelClass>;
  /** The quotas each class has (GENERAL always; the others where the train earmarks berths). */
  quotas: Map<TravelClass, Set<Quota>>;
  /** coach code -> berth number -> seat */
  coaches: Map<string, { class: TravelClass; berths: Map<number, SeatInfo> }>;
  seats: Map<number, SeatInfo>;
}

export function createLayoutCache(prisma: PrismaClient, ttlMs = 10 * 60_000) {
  const layouts = new Map<number, { at: number; value: Promise<TrainLayout> }>();
  const runs = new Map<string, { at: number; value: Promise<TrainRun | null> }>();

  async function load(trainId: number): Promise<TrainLayout> {
    const [train, stops, coaches, shares] = await Promise.all([
      prisma.train.findUniqueOrThrow({ where: { id: trainId }, select: { superfast: true } }),
      prisma.trainStop.findMany({ where: { trainId }, include: { station: true }, orderBy: { seq: 'asc' } }),
      prisma.coach.findMany({ where: { trainId }, include: { seats: true } }),
      prisma.quotaShare.findMany({ where: { trainId, berths: { gt: 0 } } }),
    ]);
    const classes = new Set(coaches.map((c) => c.class));
    const layout: TrainLayout = {
      trainId,
      superfast: train.superfast,
      stops,
      classes,
      quotas: new Map(
        [...classes].map((cls) => [
          cls,
          new Set<Quota>(['GENERAL', ...shares.filter((s) => s.class === cls).map((s) => s.quota)]),
        ]),
      ),
      coaches: new Map(),
      seats: new Map(),
    };
    for (const coach of coaches) {
      const berths = new Map<number, SeatInfo>();
      for (const s of coach.seats) {
        const info = { seatId: s.id, coach: coach.code, number: s.number, berthType: s.berthType, class: coach.class };
        berths.set(s.number, info);
        layout.seats.set(s.id, info);
      }
      layout.coaches.set(coach.code, { class: coach.class, berths });
    }
    return layout;
  }

  function cached<K, V>(
    map: Map<K, { at: number; value: Promise<V> }>,
    key: K,
    ttl: number,
    fetch: () => Promise<V>,
  ): Promise<V> {
    const hit = map.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.value;
    const value = fetch();
    map.set(key, { at: Date.now(), value });
    value.catch(() => map.delete(key));
    return value;
  }

  return {
    layout: (trainId: number) => cached(layouts, trainId, ttlMs, () => load(trainId)),
    /** Run rows change (cancellation, inventory creation): cached for a second only. */
    run: (runId: string) => cached(runs, runId, 1_000, () => prisma.trainRun.findUnique({ where: { id: runId } })),
    /** The run changed here (cancelled): this process's next request reads it again. */
    forgetRun: (runId: string) => {
      runs.delete(runId);
    },
    /** After this process created a run's inventory, later requests need not check again. */
    markInventoryReady: (run: TrainRun) => {
      run.inventoryReady = true;
    },
  };
}
export type LayoutCache = ReturnType<typeof createLayoutCache>;
