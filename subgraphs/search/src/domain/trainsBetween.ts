// trainsBetween from search's own projection: routes with times in minutes after midnight of the
// date the train left its origin (IST). A train reaching `from` on journey day n left its origin
// n-1 days before the date asked for, and it is that origin date its runsOn and its run refer to.
import { z } from 'zod';
import type { PrismaClient } from '@tatkal/db';
import { addDays, badInput, CLASS_CODE, formatClock, todayInIndia, weekdayOf } from '@tatkal/common';

const stopSchema = z.object({
  code: z.string(),
  seq: z.number().int(),
  arrivalMin: z.number().int().nullable(),
  departureMin: z.number().int().nullable(),
  distanceKm: z.number(),
});
export type RouteStop = z.infer<typeof stopSchema>;
export const routeSchema = z.array(stopSchema);

export interface TrainRoute {
  number: string;
  name: string;
  type: string;
  runsOn: number[];
  classes: string[];
  stops: RouteStop[];
}

export interface TrainConnection {
  number: string;
  name: string;
  type: string;
  from: string;
  to: string;
  /** The date asked for: the train leaves `from` on it. */
  date: string;
  /** The date the train left its origin: the TrainRun's date. */
  originDate: string;
  departure: string;
  arrival: string;
  arrivalDate: string;
  durationMinutes: number;
  distanceKm: number;
  classes: string[];
  /** Minutes after midnight of `date` the train leaves `from` (sort key). */
  departureMinute: number;
}

/** The connection this route offers from `from` to `to` leaving `from` on `date`, if any. */
export function connectionOn(route: TrainRoute, from: string, to: string, date: string): TrainConnection | null {
  const fromStop = route.stops.find((s) => s.code === from && s.departureMin !== null);
  if (!fromStop || fromStop.departureMin === null) return null;
  const toStop = route.stops.find((s) => s.code === to && s.seq > fromStop.seq && s.arrivalMin !== null);
  if (!toStop || toStop.arrivalMin === null) return null;
  const dayOffset = Math.floor(fromStop.departureMin / 1440);
  const originDate = addDays(date, -dayOffset);
  if (!route.runsOn.includes(weekdayOf(originDate))) return null;
  return {
    number: route.number,
    name: route.name,
    type: route.type,
    from,
    to,
    date,
    originDate,
    departure: formatClock(fromStop.departureMin)!,
    arrival: formatClock(toStop.arrivalMin)!,
    arrivalDate: addDays(originDate, Math.floor(toStop.arrivalMin / 1440)),
    durationMinutes: toStop.arrivalMin - fromStop.departureMin,
    distanceKm: Math.round(toStop.distanceKm - fromStop.distanceKm),
    classes: route.classes,
    departureMinute: fromStop.departureMin % 1440,
  };
}

/** Every connection on `date`, earliest departure first. */
export function connectionsBetween(
  routes: TrainRoute[],
  from: string,
  to: string,
  date: string,
  classCode: string | null,
): TrainConnection[] {
  return routes
    .filter((r) => !classCode || r.classes.includes(classCode))
    .map((r) => connectionOn(r, from, to, date))
    .filter((c): c is TrainConnection => c !== null)
    .sort((a, b) => a.departureMinute - b.departureMinute || a.number.localeCompare(b.number));
}

const CLASS_CODES = new Set(Object.values(CLASS_CODE));

/** "3A" or THIRD_AC (the booking enum's name) -> "3A"; anything else is BAD_USER_INPUT. */
export function classCodeOf(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const v = value.trim().toUpperCase();
  if (CLASS_CODES.has(v)) return v;
  if (v in CLASS_CODE) return CLASS_CODE[v as keyof typeof CLASS_CODE];
  throw badInput(`class must be one of ${[...CLASS_CODES].join(', ')}`, 'class');
}

export interface TrainsBetweenInput {
  from: string;
  to: string;
  date: string;
  class?: string | null;
}

export interface ValidatedTrainsBetween {
  from: string;
  to: string;
  date: string;
  classCode: string | null;
}

const CODE = /^[A-Z0-9]{1,8}$/;

/** Checks everything that needs no database: code shapes, distinct stations, not in the past, class. */
export function validateTrainsBetween(input: TrainsBetweenInput, today = todayInIndia()): ValidatedTrainsBetween {
  const from = input.from.trim().toUpperCase();
  const to = input.to.trim().toUpperCase();
  if (!CODE.test(from)) throw badInput('from must be a station code such as NDLS', 'from');
  if (!CODE.test(to)) throw badInput('to must be a station code such as MMCT', 'to');
  if (from === to) throw badInput('from and to must be different stations', 'to');
  if (input.date < today) throw badInput(`date ${input.date} is in the past (today is ${today} in India)`, 'date');
  return { from, to, date: input.date, classCode: classCodeOf(input.class) };
}

/** Unknown codes are BAD_USER_INPUT naming the field; then the routes through both stations. */
export async function loadRoutes(prisma: PrismaClient, from: string, to: string): Promise<TrainRoute[]> {
  const known = new Set(
    (await prisma.stationDoc.findMany({ where: { code: { in: [from, to] } }, select: { code: true } })).map(
      (s) => s.code,
    ),
  );
  if (!known.has(from)) throw badInput(`Unknown station code ${from}`, 'from');
  if (!known.has(to)) throw badInput(`Unknown station code ${to}`, 'to');
  const docs = await prisma.trainDoc.findMany({
    where: { stationCodes: { hasEvery: [from, to] } },
    select: { number: true, name: true, type: true, runsOn: true, classes: true, stops: true },
  });
  return docs.map((d) => ({ ...d, stops: routeSchema.parse(d.stops) }));
}
