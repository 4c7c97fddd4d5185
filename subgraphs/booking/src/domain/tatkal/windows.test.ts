// Booking windows in IST (windows.ts), on worked examples: across IST midnight (UTC dates
// differ), AC against non-AC, and general against Tatkal.
import { describe, expect, it } from 'vitest';
import { agentEmbargoUntil, istInstant, istIso, opensAt } from './windows.ts';

describe('booking windows', () => {
  it('Tatkal opens the day before the journey at 10:00 IST for AC classes (04:30 UTC)', () => {
    const at = opensAt('2026-12-24', 'THIRD_AC', 'TATKAL', 60);
    expect(at.toISOString()).toBe('2026-12-23T04:30:00.000Z');
    expect(istIso(at)).toBe('2026-12-23T10:00:00+05:30');
    expect(opensAt('2026-12-24', 'EXEC_CHAIR', 'PREMIUM_TATKAL', 60)).toEqual(at);
  });

  it('and at 11:00 IST for sleeper and second sitting', () => {
    expect(istIso(opensAt('2026-12-24', 'SLEEPER', 'TATKAL', 60))).toBe('2026-12-23T11:00:00+05:30');
    expect(istIso(opensAt('2026-12-24', 'SECOND_SEATING', 'PREMIUM_TATKAL', 60))).toBe('2026-12-23T11:00:00+05:30');
  });

  it('general, ladies and lower-berth quotas open ARP days before at 08:00 IST, which is 02:30 UTC', () => {
    for (const quota of ['GENERAL', 'LADIES', 'LOWER_BERTH'] as const)
      expect(istIso(opensAt('2027-02-21', 'SLEEPER', quota, 60))).toBe('2026-12-23T08:00:00+05:30');
    expect(opensAt('2027-02-21', 'FIRST_AC', 'GENERAL', 60).toISOString()).toBe('2026-12-23T02:30:00.000Z');
    expect(istIso(opensAt('2027-02-21', 'FIRST_AC', 'GENERAL', 120))).toBe('2026-10-24T08:00:00+05:30');
  });

  it('counts dates in IST: 00:10 IST on the 1st is still the 31st in UTC', () => {
    expect(istInstant('2027-01-01', 0, 10).toISOString()).toBe('2026-12-31T18:40:00.000Z');
    // A journey on 1 January: Tatkal opens on 31 December, across the year's end.
    expect(istIso(opensAt('2027-01-01', 'SECOND_AC', 'TATKAL', 60))).toBe('2026-12-31T10:00:00+05:30');
  });

  it('agents wait 30 minutes into a Tatkal window; no embargo on general', () => {
    expect(istIso(agentEmbargoUntil('2026-12-24', 'SLEEPER', 'TATKAL')!)).toBe('2026-12-23T11:30:00+05:30');
    expect(agentEmbargoUntil('2026-12-24', 'SLEEPER', 'GENERAL')).toBeNull();
  });
});
