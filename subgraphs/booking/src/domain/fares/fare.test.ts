// Worked examples from the tables in docs/api.md ("Fares"), each computed by hand in its comment.
import { describe, expect, it } from 'vitest';
import { TRAVEL_CLASSES } from '@tatkal/common/travelClasses';
import type { Quota } from '@tatkal/db';
import { baseFarePaise, chargeableKm, fareBreakdown, tatkalChargePaise } from './fare.ts';
import { premiumTatkalPercent } from './premiumTatkal.ts';
import { type QuotaName, quotaOffered } from './tables.ts';

// The quota names are booking's Quota enum, both ways.
const sameQuotas: [QuotaName, Quota] extends [Quota, QuotaName] ? true : false = true;

describe('base fare', () => {
  it('charges the class minimum distance and the upper end of the slab', () => {
    expect(sameQuotas).toBe(true);
    expect(chargeableKm(80, 200)).toBe(200); // sleeper: 200 km minimum
    expect(chargeableKm(1386, 300)).toBe(1400); // 25 km slabs between 1,000 and 2,500 km
    expect(chargeableKm(501, 0)).toBe(510); // 10 km slabs between 100 and 1,000 km
    expect(chargeableKm(3, 0)).toBe(5);
    expect(chargeableKm(2501, 0)).toBe(2550);
  });
  it('is telescopic: each later band costs less per km', () => {
    // Sleeper 500 km: 300 x 64 + 200 x 36 paise = ₹264.
    expect(baseFarePaise('SLEEPER', 500)).toBe(26_400);
    // Sleeper 3,000 km: 300 x 64 + 1,700 x 36 + 1,000 x 21 = ₹1,014.
    expect(baseFarePaise('SLEEPER', 3000)).toBe(101_400);
    for (const cls of TRAVEL_CLASSES) {
      const perKm = (km: number) => baseFarePaise(cls, km) / km;
      expect(perKm(2000)).toBeLessThan(perKm(500));
      expect(perKm(4000)).toBeLessThan(perKm(2000));
    }
  });
  it('orders classes by price at any distance', () => {
    const order = ['SECOND_SEATING', 'SLEEPER', 'CHAIR_CAR', 'THIRD_AC', 'SECOND_AC', 'FIRST_AC'] as const;
    for (const km of [300, 1000, 2500]) {
      const fares = order.map((cls) => baseFarePaise(cls, km));
      expect([...fares].sort((a, b) => a - b)).toEqual(fares);
    }
  });
});

describe('fareBreakdown', () => {
  it('sleeper 500 km Tatkal on a superfast: the Tatkal charge is clamped up to ₹100', () => {
    // ₹264 base; 30% = ₹79.20 -> ₹80, below the ₹100 minimum; 264+20+30+100 = 414 -> ₹415.
    expect(fareBreakdown({ cls: 'SLEEPER', distanceKm: 500, superfast: true, quota: 'TATKAL' })).toEqual({
      basePaise: 26_400,
      reservationChargePaise: 2_000,
      superfastChargePaise: 3_000,
      tatkalChargePaise: 10_000,
      gstPaise: 0,
      roundingPaise: 100,
      totalPaise: 41_500,
    });
  });
  it('AC 3 tier 1,386 km superfast: GST 5% on the whole fare', () => {
    // 1,400 km: 300 x 163 + 1,100 x 88 = ₹1,457; +40 +45 = 1,542; GST 77.10 -> 77; 1,619 -> ₹1,620.
    expect(fareBreakdown({ cls: 'THIRD_AC', distanceKm: 1386, superfast: true, quota: 'GENERAL' })).toEqual({
      basePaise: 145_700,
      reservationChargePaise: 4_000,
      superfastChargePaise: 4_500,
      tatkalChargePaise: 0,
      gstPaise: 7_700,
      roundingPaise: 100,
      totalPaise: 162_000,
    });
    // Tatkal: 30% of 1,457 = 437.10 -> 438, clamped down to ₹400; GST of 1,942 = 97.10 -> 97; 2,039 -> 2,040.
    const tatkal = fareBreakdown({ cls: 'THIRD_AC', distanceKm: 1386, superfast: true, quota: 'TATKAL' });
    expect([tatkal.tatkalChargePaise, tatkal.gstPaise, tatkal.totalPaise]).toEqual([40_000, 9_700, 204_000]);
  });
  it('second sitting 80 km Tatkal: 10% of the 100 km fare, clamped up to ₹10', () => {
    // Base for 80 km: 80 x 38 = ₹30.40 -> ₹30; Tatkal on 100 km: 10% of ₹38 = 3.80 -> 4 -> ₹10.
    const f = fareBreakdown({ cls: 'SECOND_SEATING', distanceKm: 80, superfast: false, quota: 'TATKAL' });
    expect(f).toMatchObject({ basePaise: 3_000, tatkalChargePaise: 1_000, superfastChargePaise: 0, gstPaise: 0 });
    expect(f.totalPaise).toBe(5_500);
  });
  it('clamps the Tatkal charge down to the class maximum on long journeys', () => {
    expect(tatkalChargePaise('SLEEPER', 3000)).toBe(20_000); // 30% of 1,014 = 305 -> ₹200
    expect(tatkalChargePaise('SECOND_SEATING', 3000)).toBe(1_500);
    expect(tatkalChargePaise('SECOND_AC', 2182)).toBe(50_000);
    expect(tatkalChargePaise('EXEC_CHAIR', 100)).toBe(40_000);
  });
  it('offers no Tatkal in First AC, and refuses to price it', () => {
    expect(quotaOffered('FIRST_AC', 'TATKAL')).toBe(false);
    expect(quotaOffered('FIRST_AC', 'PREMIUM_TATKAL')).toBe(false);
    expect(quotaOffered('FIRST_AC', 'GENERAL')).toBe(true);
    expect(quotaOffered('SLEEPER', 'TATKAL')).toBe(true);
    expect(() => fareBreakdown({ cls: 'FIRST_AC', distanceKm: 500, superfast: true, quota: 'TATKAL' })).toThrow(
      RangeError,
    );
  });
  it('charges no superfast surcharge on other trains and no GST in non-AC classes', () => {
    const f = fareBreakdown({ cls: 'SLEEPER', distanceKm: 1520, superfast: false, quota: 'GENERAL' });
    expect([f.superfastChargePaise, f.gstPaise]).toEqual([0, 0]);
    const ladies = fareBreakdown({ cls: 'SLEEPER', distanceKm: 1520, superfast: false, quota: 'LADIES' });
    expect(ladies).toEqual(f);
  });
  it('adds up exactly, in whole rupees, to a multiple of ₹5', () => {
    for (const cls of TRAVEL_CLASSES)
      for (const quota of ['GENERAL', 'TATKAL', 'PREMIUM_TATKAL'] as const)
        for (const distanceKm of [1, 49, 199, 301, 777, 1386, 2999])
          for (const superfast of [true, false]) {
            if (!quotaOffered(cls, quota)) continue;
            const f = fareBreakdown({ cls, distanceKm, superfast, quota, premiumTatkalFill: 0.5 });
            const { totalPaise, ...parts } = f;
            expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBe(totalPaise);
            expect(totalPaise % 500).toBe(0);
            for (const part of Object.values(parts)) expect(part % 100).toBe(0);
            expect(f.roundingPaise).toBeLessThan(500);
          }
  });
  it('refuses what a caller must not ask', () => {
    const sl = { cls: 'SLEEPER', superfast: true } as const;
    expect(() => fareBreakdown({ ...sl, distanceKm: 0, quota: 'GENERAL' })).toThrow(RangeError);
    expect(() => fareBreakdown({ ...sl, distanceKm: 500, quota: 'PREMIUM_TATKAL' })).toThrow(/premiumTatkalFill/);
  });
});

describe('Premium Tatkal', () => {
  it('rises in bands as the quota fills, to a cap', () => {
    expect([0, 0.19, 0.2, 0.39, 0.4, 0.6, 0.8, 1].map(premiumTatkalPercent)).toEqual([0, 0, 20, 20, 40, 70, 100, 100]);
    expect(() => premiumTatkalPercent(1.01)).toThrow(RangeError);
    expect(() => premiumTatkalPercent(Number.NaN)).toThrow(RangeError);
  });
  it('starts at the Tatkal fare and adds the premium to the Tatkal charge', () => {
    const input = { cls: 'THIRD_AC', distanceKm: 1386, superfast: true } as const;
    const tatkal = fareBreakdown({ ...input, quota: 'TATKAL' });
    expect(fareBreakdown({ ...input, quota: 'PREMIUM_TATKAL', premiumTatkalFill: 0 })).toEqual(tatkal);
    // 70% of ₹1,457 = 1,019.90 -> ₹1,020 on top of the ₹400 Tatkal charge; GST 5% of 2,962 = 148.10 -> 148.
    const late = fareBreakdown({ ...input, quota: 'PREMIUM_TATKAL', premiumTatkalFill: 0.75 });
    expect([late.tatkalChargePaise, late.gstPaise, late.totalPaise]).toEqual([142_000, 14_800, 311_000]);
  });
});
