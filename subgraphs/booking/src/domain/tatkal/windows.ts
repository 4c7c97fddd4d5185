// When a quota of a run opens for booking, as Indian Railways runs it (docs/api.md, "Quotas and
// booking windows"): every time is India Standard Time on the run's date at its ORIGIN station,
// also for a traveller who boards later on the route.
//   GENERAL, LADIES, LOWER_BERTH: ARP days before the journey (60 by default), at 08:00.
//   TATKAL, PREMIUM_TATKAL: the day before the journey, at 10:00 for AC classes, 11:00 for
//   non-AC classes (sleeper, second sitting).
// The hours are an operator setting (OpeningTimes: GENERAL_OPENS, TATKAL_OPENS_AC,
// TATKAL_OPENS_NON_AC): the Railways have moved them before. Pure: no clock, no database.
import type { Quota, TravelClass } from '@tatkal/db';
import { addDays } from '@tatkal/common';

/** Classes without air conditioning: their Tatkal window opens an hour later. */
const NON_AC: readonly TravelClass[] = ['SLEEPER', 'SECOND_SEATING'];
export const isAc = (cls: TravelClass) => !NON_AC.includes(cls);
export const isTatkal = (quota: Quota) => quota === 'TATKAL' || quota === 'PREMIUM_TATKAL';

/** IST is UTC+05:30 all year (no daylight saving). */
const IST_OFFSET_MIN = 330;

/** When the windows open on their day, in seconds after IST midnight. */
export interface OpeningTimes {
  /** GENERAL, LADIES and LOWER_BERTH, ARP days before the journey. */
  general: number;
  /** TATKAL and PREMIUM_TATKAL of AC classes, the day before the journey. */
  tatkalAc: number;
  /** TATKAL and PREMIUM_TATKAL of sleeper and second sitting, the day before the journey. */
  tatkalNonAc: number;
}

/** The Railways' hours: 08:00, 10:00 (AC Tatkal), 11:00 (non-AC Tatkal). */
export const RAILWAYS_OPENING_TIMES: Readonly<OpeningTimes> = Object.freeze({
  general: 8 * 3600,
  tatkalAc: 10 * 3600,
  tatkalNonAc: 11 * 3600,
});

/** `HH:MM` or `HH:MM:SS` (24-hour clock) as seconds after midnight; null if it is not one. */
export function parseTimeOfDay(text: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(text.trim());
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0) : null;
}

/** Seconds after midnight as `HH:MM:SS`. */
export function timeOfDay(seconds: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`;
}

/** The instant of `hh:mm` IST on `date` (YYYY-MM-DD). */
export function istInstant(date: string, hh: number, mm = 0, ss = 0): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) + ((hh * 60 + mm - IST_OFFSET_MIN) * 60 + ss) * 1000);
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
export function opensAt(
  runDate: string,
  cls: TravelClass,
  quota: Quota,
  arpDays: number,
  times: OpeningTimes = RAILWAYS_OPENING_TIMES,
): Date {
  if (isTatkal(quota)) return istInstant(addDays(runDate, -1), 0, 0, isAc(cls) ? times.tatkalAc : times.tatkalNonAc);
  return istInstant(addDays(runDate, -arpDays), 0, 0, times.general);
}

/** The first minutes of a Tatkal window in which agents may not book. */
export const AGENT_EMBARGO_MIN = 30;

/** Until when an agent may not book this quota (null: no embargo): 30 minutes from its opening. */
export function agentEmbargoUntil(
  runDate: string,
  cls: TravelClass,
  quota: Quota,
  times: OpeningTimes = RAILWAYS_OPENING_TIMES,
): Date | null {
  if (!isTatkal(quota)) return null;
  return new Date(opensAt(runDate, cls, quota, 0, times).getTime() + AGENT_EMBARGO_MIN * 60_000);
}
