// Booking windows in IST (windows.ts), on worked examples: across IST midnight (UTC dates
// differ), AC against non-AC, and general against Tatkal.
import { describe, expect, it } from 'vitest';
import { agentEmbargoUntil, istInstant, istIso, opensAt, parseTimeOfDay, timeOfDay } from './windows.ts';

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

describe('booking windows at other opening times (TATKAL_OPENS_AC, TATKAL_OPENS_NON_AC, GENERAL_OPENS)', () => {
  const times = { general: parseTimeOfDay('07:30')!, tatkalAc: parseTimeOfDay('09:45:30')!, tatkalNonAc: 10 * 3600 };

  it('parses HH:MM and HH:MM:SS, and nothing else', () => {
    expect(parseTimeOfDay('10:00')).toBe(36_000);
    expect(parseTimeOfDay('23:59:59')).toBe(86_399);
    expect(parseTimeOfDay('00:00:01')).toBe(1);
    for (const bad of ['24:00', '10', '10:60', '9:00', '10:00:60', '10:00:00:00', 'ten', ''])
      expect(parseTimeOfDay(bad)).toBeNull();
    expect(timeOfDay(parseTimeOfDay('09:45:30')!)).toBe('09:45:30');
  });

  it('Tatkal opens at the configured hours, to the second, per AC and non-AC', () => {
    expect(istIso(opensAt('2026-12-24', 'THIRD_AC', 'TATKAL', 60, times))).toBe('2026-12-23T09:45:30+05:30');
    expect(istIso(opensAt('2026-12-24', 'SLEEPER', 'PREMIUM_TATKAL', 60, times))).toBe('2026-12-23T10:00:00+05:30');
    // 09:45:30 IST is 04:15:30 UTC.
    expect(opensAt('2026-12-24', 'FIRST_AC', 'TATKAL', 60, times).toISOString()).toBe('2026-12-23T04:15:30.000Z');
  });

  it('general opens at GENERAL_OPENS, ARP days before', () => {
    expect(istIso(opensAt('2027-02-21', 'SLEEPER', 'GENERAL', 60, times))).toBe('2026-12-23T07:30:00+05:30');
    expect(istIso(opensAt('2027-02-21', 'SECOND_AC', 'LADIES', 60, times))).toBe('2026-12-23T07:30:00+05:30');
  });

  it('an opening just after IST midnight is on the day before the journey, 18:30 UTC two days before', () => {
    const early = { ...times, tatkalAc: parseTimeOfDay('00:00:05')! };
    expect(opensAt('2027-01-01', 'SECOND_AC', 'TATKAL', 60, early).toISOString()).toBe('2026-12-30T18:30:05.000Z');
  });

  it("the agents' 30 minutes run from the configured opening", () => {
    expect(istIso(agentEmbargoUntil('2026-12-24', 'THIRD_AC', 'TATKAL', times)!)).toBe('2026-12-23T10:15:30+05:30');
    expect(istIso(agentEmbargoUntil('2026-12-24', 'SLEEPER', 'TATKAL', times)!)).toBe('2026-12-23T10:30:00+05:30');
    expect(agentEmbargoUntil('2026-12-24', 'SLEEPER', 'GENERAL', times)).toBeNull();
  });
});
