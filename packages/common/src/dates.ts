// Dates and clock times of the railway calendar: India Standard Time (UTC+05:30), dates as
// YYYY-MM-DD, times as minutes after midnight of a run's departure date.

/** "HH:MM" on journey day `day` (1-based) -> minutes after midnight of the departure date. */
export function minutesOf(time: string | null, day: number): number | null {
  if (time === null) return null;
  const m = /^(\d{2}):(\d{2})$/.exec(time);
  if (!m) throw new Error(`bad time ${time}`);
  return (day - 1) * 1440 + Number(m[1]) * 60 + Number(m[2]);
}

export function formatClock(minutes: number | null): string | null {
  if (minutes === null) return null;
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** Today's date in India (UTC+05:30) as YYYY-MM-DD. */
export function todayInIndia(now = new Date()): string {
  return new Date(now.getTime() + 330 * 60_000).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** 0 = Monday ... 6 = Sunday, as in trains.json `runsOn`. */
export function weekdayOf(date: string): number {
  return (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7;
}
