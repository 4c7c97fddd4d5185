// Each row of the refund table (docs/api.md, "Cancellation and refunds") at its boundary times.
import { describe, expect, it } from 'vitest';
import { fareBreakdown } from './fare.ts';
import { type RefundInput, refundQuote, totalRefund } from './refunds.ts';

const departure = new Date('2026-12-20T11:30:00Z'); // 17:00 IST at the originating station
const before = (ms: number) => new Date(departure.getTime() - ms);
const H = 3_600_000;
const MS = 1;

// AC 3 tier 1,386 km superfast: ₹1,620 of which GST ₹77 (fare.test.ts).
const thirdAc = fareBreakdown({ cls: 'THIRD_AC', distanceKm: 1386, superfast: true, quota: 'GENERAL' });
// Sleeper 500 km superfast: ₹264 + 20 + 30 = 314 -> ₹315, no GST.
const sleeper = fareBreakdown({ cls: 'SLEEPER', distanceKm: 500, superfast: true, quota: 'GENERAL' });

const confirmed3A = (now: Date, chartPrepared = false): RefundInput => ({
  cls: 'THIRD_AC',
  quota: 'GENERAL',
  status: 'CONFIRMED',
  fare: thirdAc,
  departure,
  now,
  chartPrepared,
});

describe('confirmed general tickets', () => {
  it('more than 48 h before: the flat charge by class, plus 5% GST in AC classes', () => {
    expect(thirdAc.totalPaise).toBe(162_000);
    // ₹180 + GST ₹9 kept.
    expect(refundQuote(confirmed3A(before(48 * H + MS)))).toEqual({
      refundPaise: 162_000 - 18_900,
      chargePaise: 18_900,
      chargeGstPaise: 900,
      rule: 'CONFIRMED_MORE_THAN_48H',
    });
    const sl = refundQuote({ ...confirmed3A(before(72 * H)), cls: 'SLEEPER', fare: sleeper });
    expect(sl).toMatchObject({ refundPaise: 31_500 - 12_000, chargePaise: 12_000, chargeGstPaise: 0 });
  });
  it('from exactly 48 h to exactly 12 h before: 25% of the fare before GST, at least the flat charge', () => {
    // 25% of (1,620 - 77) = ₹385.75, GST 5% = ₹19.29 (19.2875): ₹405.04 kept.
    for (const now of [before(48 * H), before(12 * H)])
      expect(refundQuote(confirmed3A(now))).toEqual({
        refundPaise: 162_000 - 40_504,
        chargePaise: 40_504,
        chargeGstPaise: 1_929,
        rule: 'CONFIRMED_48H_TO_12H',
      });
    // Sleeper: 25% of ₹315 = ₹78.75 is less than the ₹120 minimum.
    const sl = refundQuote({ ...confirmed3A(before(24 * H)), cls: 'SLEEPER', fare: sleeper });
    expect(sl).toMatchObject({ chargePaise: 12_000, rule: 'CONFIRMED_48H_TO_12H' });
  });
  it('under 12 h to exactly 4 h before: 50%, at least the flat charge', () => {
    // 50% of ₹1,543 = ₹771.50, GST ₹38.58 (38.575 half up): ₹810.08 kept.
    for (const now of [before(12 * H - MS), before(4 * H)])
      expect(refundQuote(confirmed3A(now))).toMatchObject({
        refundPaise: 162_000 - 81_008,
        chargePaise: 81_008,
        rule: 'CONFIRMED_12H_TO_4H',
      });
  });
  it('under 4 h before, or once the chart is prepared: no online cancellation', () => {
    const closed = { refundPaise: 0, chargePaise: 0, refusal: 'CANCELLATION_CLOSED', rule: 'CONFIRMED_AFTER_CHART' };
    expect(refundQuote(confirmed3A(before(4 * H - MS)))).toMatchObject(closed);
    expect(refundQuote(confirmed3A(before(5 * H), true))).toMatchObject(closed);
  });
});

describe('confirmed Tatkal and Premium Tatkal', () => {
  it('refunds nothing', () => {
    const fare = fareBreakdown({ cls: 'SLEEPER', distanceKm: 500, superfast: true, quota: 'TATKAL' });
    for (const quota of ['TATKAL', 'PREMIUM_TATKAL'] as const)
      expect(refundQuote({ ...confirmed3A(before(100 * H)), cls: 'SLEEPER', quota, fare })).toEqual({
        refundPaise: 0,
        chargePaise: 41_500,
        chargeGstPaise: 0,
        rule: 'CONFIRMED_TATKAL',
      });
  });
});

describe('RAC and waitlisted', () => {
  const rac = (status: 'RAC' | 'WAITLISTED', now: Date, chartPrepared = false): RefundInput => ({
    ...confirmed3A(now, chartPrepared),
    quota: 'TATKAL',
    status,
  });
  it('refunds the fare less ₹60 clerkage and 18% GST on it, up to exactly 30 minutes before', () => {
    for (const status of ['RAC', 'WAITLISTED'] as const)
      for (const [now, chart] of [
        [before(200 * H), false],
        [before(0.5 * H), true],
      ] as const)
        expect(refundQuote(rac(status, now, chart))).toEqual({
          refundPaise: 162_000 - 7_080,
          chargePaise: 7_080,
          chargeGstPaise: 1_080,
          rule: 'RAC_WL_CLERKAGE',
        });
  });
  it('is closed in the last 30 minutes', () => {
    expect(refundQuote(rac('WAITLISTED', before(0.5 * H - MS)))).toMatchObject({
      refundPaise: 0,
      refusal: 'CANCELLATION_CLOSED',
      rule: 'RAC_WL_LAST_30_MIN',
    });
  });
});

describe('unpaid holds and totals', () => {
  it('refunds nothing on an unpaid hold, and charges nothing', () => {
    expect(refundQuote({ ...confirmed3A(before(1 * H)), status: 'HELD' })).toEqual({
      refundPaise: 0,
      chargePaise: 0,
      chargeGstPaise: 0,
      rule: 'HELD_UNPAID',
    });
  });
  it('never keeps more than was paid', () => {
    const short = fareBreakdown({ cls: 'SECOND_SEATING', distanceKm: 10, superfast: false, quota: 'GENERAL' });
    const q = refundQuote({ ...confirmed3A(before(100 * H)), cls: 'SECOND_SEATING', fare: short });
    expect(q).toMatchObject({ refundPaise: 0, chargePaise: short.totalPaise });
  });
  it('sums a PNR and carries a refusal', () => {
    const a = refundQuote(confirmed3A(before(100 * H)));
    const b = refundQuote({ ...confirmed3A(before(100 * H)), status: 'WAITLISTED' });
    expect(totalRefund([a, b])).toEqual({
      refundPaise: a.refundPaise + b.refundPaise,
      chargePaise: a.chargePaise + b.chargePaise,
    });
    const late = refundQuote(confirmed3A(before(1 * H)));
    expect(totalRefund([a, late]).refusal).toBe('CANCELLATION_CLOSED');
  });
});
