// The opening's pieces that need no stack: its time of day in IST, the runs' popularity, the
// users' spread over them, and Spearman's rank correlation.
import { describe, expect, it } from 'vitest';
import { assignRuns, openingEnv, planOpening, zipfWeights } from './opening.ts';
import { ranks, spearman } from './openingReport.ts';

describe('the opening', () => {
  it('opens on a whole second, written HH:MM:SS IST, for runs of the day after (IST)', () => {
    const plan = planOpening(20, new Date('2026-12-07T09:29:39.400Z'));
    expect(plan.at.toISOString()).toBe('2026-12-07T09:30:00.000Z');
    expect(plan.timeOfDay).toBe('15:00:00');
    expect(plan.journeyDate).toBe('2026-12-08');
    expect(openingEnv(plan)).toEqual({
      TATKAL_OPENS_AC: '15:00:00',
      TATKAL_OPENS_NON_AC: '15:00:00',
      TATKAL_PNRS_PER_ADDRESS: '0',
    });
    // 18:29:50 UTC + 20 s is 00:00:10 IST on the 8th: the runs leave on the 9th.
    expect(planOpening(20, new Date('2026-12-07T18:29:50Z'))).toMatchObject({
      timeOfDay: '00:00:10',
      journeyDate: '2026-12-09',
    });
  });

  it('spreads users over the runs by 1/k: run 1 the most, every run some', () => {
    const weights = zipfWeights(20, 1);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(weights[0]! / weights[1]!).toBeCloseTo(2, 9);
    const runOf = assignRuns(20_000, weights);
    const per = weights.map((_, k) => runOf.filter((r) => r === k).length);
    expect(per[0]! / 20_000).toBeCloseTo(weights[0]!, 1);
    expect(per.every((n) => n > 0)).toBe(true);
    expect(assignRuns(100, weights)).toEqual(assignRuns(100, weights));
  });

  it("Spearman's rho: 1 and -1 on monotone pairs, ties share a rank, none without spread", () => {
    expect(ranks([10, 30, 20, 20])).toEqual([1, 4, 2.5, 2.5]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 1000])).toBe(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(spearman([1, 2], [1, 2])).toBeNull();
  });
});
