// The opening the Tatkal benchmark stages (its default mode): the Tatkal window of tomorrow's
// runs opens today, a lead time after booking starts (TATKAL_OPENS_AC and _NON_AC set to that
// second, HH:MM:SS IST); every run's berths are all Tatkal; users spread over the runs by a
// Zipf-like popularity (run k gets weight 1/k^s), as when hundreds of trains open together.
import type { ReserveSeatsInput } from '@tatkal/client';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import type { PrismaClient } from '@tatkal/db';
import { createTestRun, type TestRun } from '../../packages/testkit/src/trainRun.ts';
import { istIso, timeOfDay } from '../../subgraphs/booking/src/domain/tatkal/windows.ts';
import { reserveInput } from '../load.ts';
import { seededRandom } from '../../packages/testkit/src/random.ts';

const IST_OFFSET_S = 19_800;

export interface OpeningPlan {
  /** The instant the window opens (a whole second). */
  at: Date;
  /** The same as booking's TATKAL_OPENS_*: HH:MM:SS IST. */
  timeOfDay: string;
  /** The runs' journey date: the day after the opening's (IST). */
  journeyDate: string;
}

/** The opening `leadS` seconds from `now`, rounded up to the second. */
export function planOpening(leadS: number, now = new Date()): OpeningPlan {
  const at = new Date(Math.ceil((now.getTime() + leadS * 1000) / 1000) * 1000);
  const seconds = (at.getTime() / 1000 + IST_OFFSET_S) % 86_400;
  return { at, timeOfDay: timeOfDay(seconds), journeyDate: addDays(todayInIndia(at), 1) };
}

export const describeOpening = (p: OpeningPlan) => `${p.timeOfDay} IST (${istIso(p.at)})`;

/**
 * booking's environment for the opening: both Tatkal hours at its second (the bench's class is
 * SLEEPER, a non-AC class), and no per-address limit (every bench user is 127.0.0.1).
 */
export function openingEnv(p: OpeningPlan): Record<string, string> {
  return { TATKAL_OPENS_AC: p.timeOfDay, TATKAL_OPENS_NON_AC: p.timeOfDay, TATKAL_PNRS_PER_ADDRESS: '0' };
}

/** `count` runs of the bench's train; Tatkal runs (every berth on the TATKAL quota) for an opening. */
export async function createRuns(
  prisma: PrismaClient,
  opts: { count: number; coaches: number; berthsPerCoach: number; racBerths: number; journeyDate: string | null },
): Promise<TestRun[]> {
  const { coaches, berthsPerCoach, journeyDate } = opts;
  // createTestRun counts days from today in IST.
  const daysAhead = journeyDate ? Math.round((Date.parse(journeyDate) - Date.parse(todayInIndia())) / 86_400_000) : 1;
  const runs: TestRun[] = [];
  for (let k = 0; k < opts.count; k++)
    runs.push(
      await createTestRun(prisma, {
        coaches,
        berthsPerCoach,
        // RAC berths belong to GENERAL: an opening's runs (every berth Tatkal) have none.
        racBerths: journeyDate ? 0 : opts.racBerths,
        daysAhead,
        ...(journeyDate ? { quotas: { TATKAL: coaches * berthsPerCoach } } : {}),
      }),
    );
  return runs;
}

/** Weights 1/k^s of runs 1..n, summing to 1. */
export function zipfWeights(n: number, s: number): number[] {
  const raw = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / sum);
}

/** Which run (index) each of `users` goes to, drawn by `weights`. */
export function assignRuns(users: number, weights: number[], seed = 20): number[] {
  const random = seededRandom(seed); // the same users go to the same runs every time
  let sum = 0;
  const cumulative = weights.map((w) => (sum += w));
  return Array.from({ length: users }, () => {
    const x = random();
    const k = cumulative.findIndex((c) => x < c);
    return k < 0 ? weights.length - 1 : k;
  });
}

/** User i's reservation: the mix of load.ts's reserveInput on its run, on the TATKAL quota for an opening. */
export function benchInputs(runOf: number[], runs: TestRun[], opening: boolean): ReserveSeatsInput[] {
  return runOf.map((k, i) => ({ ...reserveInput(i, runs[k]!), ...(opening ? { quota: 'TATKAL' as const } : {}) }));
}
