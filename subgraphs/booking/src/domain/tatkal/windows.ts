// When a quota of a run opens for booking, as Indian Railways runs it (docs/api.md, "Quotas and
// booking windows"): every time is India Standard Time on the run's date at its ORIGIN station,
// also for a traveller who boards later on the route.
//   GENERAL, LADIES, LOWER_BERTH: ARP days before the journey (60 by default), at 08:00.
//   TATKAL, PREMIUM_TATKAL: the day before the journey, at 10:00 for AC classes, 11:00 for
//   non-AC classes (sleeper, second sitting).
// Pure: no clock, no database.
import type { Quota, TravelClass } from '@tatkal/db';
import { addDays } from '@tatkal/common';

/** Classes without air conditioning: their Tatkal window opens an hour later. */
const NON_AC: readonly TravelClass[] = ['SLEEPER', 'SECOND_SEATING'];
export const isAc = (cls: TravelClass) => !NON_AC.includes(cls);
export const isTatkal = (quota: Quota) => quota === 'TATKAL' || quota === 'PREMIUM_TATKAL';

/** IST is UTC+05:30 all year (no daylight saving). */
const IST_OFFSET_MIN = 330;

/** The instant of `hh:mm` IST on `date` (YYYY-MM-DD). */
export function istInstant(date: string, hh: number, mm = 0): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) + (hh * 60 + mm - IST_OFFSET_MIN) * 60_000);
}

/** An instant written in IST with its offset, e.g. 2026-12-23T10:00:00+05:30 (what clients see). */
export function istIso(at: Date): string {
  const local = new Date(at.getTime() + IST_OFFSET_MIN * 60_000).toISOString().slice(0, 19);
  return `${local}+05:30`;
}

/**
 * When `quota` of `cls` opens for the run leaving its origin on `runDate` (YYYY-MM-DD, IST).
 * `arpDays`: the advance reservation period (days before the journey date).
 */
export function opensAt(runDate: string, cls: TravelClass, quota: Quota, arpDays: number): Date {
  if (isTatkal(quota)) return istInstant(addDays(runDate, -1), isAc(cls) ? 10 : 11);
  return istInstant(addDays(runDate, -arpDays), 8);
}

/** The first minutes of a Tatkal window in which agents may not book. */
export const AGENT_EMBARGO_MIN = 30;

/** Until when an agent may not book this quota (null: no embargo). */
export function agentEmbargoUntil(runDate: string, cls: TravelClass, quota: Quota): Date | null {
  if (!isTatkal(quota)) return null;
  return new Date(opensAt(runDate, cls, quota, 0).getTime() + AGENT_EMBARGO_MIN * 60_000);
}
