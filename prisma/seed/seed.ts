// Loads the shipped Indian rail network (prisma/seed/data) and runs for the next RUN_DAYS days.
// Idempotent: existing stations, trains, coaches and runs are kept; only what is missing is added.
// No network access. Usage: DATABASE_URL=... tsx prisma/seed/seed.ts
import { readFileSync } from 'node:fs';
import { createPrisma, type Prisma, type PrismaClient } from '@tatkal/db';
import { addDays, minutesOf, todayInIndia, weekdayOf } from '@tatkal/common/dates';
import { CLASS_BY_CODE, type TravelClassName } from '@tatkal/common/travelClasses';
import { berthTypeOf, COACH_LAYOUT } from '../../subgraphs/booking/src/domain/rail.ts';
import { quotaShares } from './quotas.ts';

/** Text the search projection indexes: lower-case, one space, aliases included. */
function searchTextOf(parts: (string | null | undefined)[]): string {
  return parts
    .filter((p): p is string => !!p)
    .join(' ')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

export interface StationData {
  code: string;
  name: string;
  city: string;
  state: string;
  zone?: string;
  lat?: number;
  lon?: number;
  aliases: string[];
}
export interface StopData {
  code: string;
  arr: string | null;
  dep: string | null;
  day: number;
  km: number;
}
export interface TrainData {
  number: string;
  name: string;
  type: string;
  /** Superfast (docs/api.md, "Fares"): the superfast surcharge applies to its fares. */
  superfast: boolean;
  runsOn: number[];
  coaches: Record<string, number>;
  stops: StopData[];
}

const dataFile = (name: string) => new URL(`./data/${name}`, import.meta.url);
export const stations: StationData[] = JSON.parse(readFileSync(dataFile('stations.json'), 'utf8'));
export const trains: TrainData[] = JSON.parse(readFileSync(dataFile('trains.json'), 'utf8'));
// A train without its flag would silently lose the surcharge (the column defaults to false).
for (const t of trains)
  if (typeof t.superfast !== 'boolean') throw new Error(`trains.json: train ${t.number} has no superfast flag`);

function networkEvent(type: string, correlationId: string, data: Prisma.InputJsonObject) {
  return {
    exchange: 'booking',
    routingKey: type,
    payload: { type, version: 1, occurredAt: new Date().toISOString(), correlationId, data },
  };
}

/** A train as other services see it: route with times, running days, class codes. */
export function trainEventData(t: TrainData) {
  return {
    number: t.number,
    name: t.name,
    type: t.type,
    runsOn: t.runsOn,
    classes: Object.entries(t.coaches)
      .filter(([, n]) => n > 0)
      .map(([code]) => code),
    stops: t.stops.map((s, seq) => ({
      code: s.code,
      seq,
      arrivalMin: minutesOf(s.arr, s.day),
      departureMin: minutesOf(s.dep, s.day),
      distanceKm: s.km,
    })),
  };
}

const CLASS_ORDER: TravelClassName[] = [
  'FIRST_AC',
  'SECOND_AC',
  'THIRD_AC',
  'SLEEPER',
  'EXEC_CHAIR',
  'CHAIR_CAR',
  'SECOND_SEATING',
];

/**
 * Side lower berths per coach earmarked for RAC (two RAC passengers each), where side berths
 * exist (COACH_LAYOUT): the seed's choice, close to what IRCTC charts show; set when a coach is
 * created only, since runs already prepared earmarked their berths with the old value.
 */
export const RAC_BERTHS_PER_COACH: Partial<Record<TravelClassName, number>> = {
  SLEEPER: 6,
  THIRD_AC: 4,
  SECOND_AC: 2,
};

export interface SeedOptions {
  runDays?: number;
  /** First run date (YYYY-MM-DD); defaults to today in India. */
  from?: string;
  log?: (line: string) => void;
}

export async function seed(prisma: PrismaClient, opts: SeedOptions = {}): Promise<Record<string, number>> {
  const log = opts.log ?? (() => {});
  const runDays = opts.runDays ?? 60;
  const from = opts.from ?? todayInIndia();

  const knownStations = new Set((await prisma.station.findMany({ select: { code: true } })).map((s) => s.code));
  const createdStations = await prisma.station.createMany({
    data: stations.map((s) => ({
      code: s.code,
      name: s.name,
      city: s.city,
      state: s.state,
      zone: s.zone ?? null,
      latitude: s.lat ?? null,
      longitude: s.lon ?? null,
      aliases: s.aliases ?? [],
    })),
    skipDuplicates: true,
  });
  // Booking announces network changes to other services (search) through its outbox.
  await prisma.bookingOutbox.createMany({
    data: stations
      .filter((s) => !knownStations.has(s.code))
      .map((s) =>
        networkEvent('network.station.upserted', s.code, {
          code: s.code,
          name: s.name,
          city: s.city,
          state: s.state,
          aliases: s.aliases ?? [],
        }),
      ),
  });
  const stationIds = new Map(
    (await prisma.station.findMany({ select: { id: true, code: true } })).map((s) => [s.code, s.id]),
  );

  let createdTrains = 0;
  let createdSeats = 0;
  const existing = new Set((await prisma.train.findMany({ select: { number: true } })).map((t) => t.number));
  for (const t of trains) {
    if (existing.has(t.number)) continue;
    // One transaction per train: a train is seeded whole or not at all.
    await prisma.$transaction(
      async (tx) => {
        const train = await tx.train.create({
          data: { number: t.number, name: t.name, type: t.type, superfast: t.superfast, runsOn: t.runsOn },
        });
        await tx.trainStop.createMany({
          data: t.stops.map((s, seq) => {
            const stationId = stationIds.get(s.code);
            if (stationId === undefined) throw new Error(`train ${t.number}: unknown station ${s.code}`);
            return {
              trainId: train.id,
              seq,
              stationId,
              arrivalMin: minutesOf(s.arr, s.day),
              departureMin: minutesOf(s.dep, s.day),
              distanceKm: s.km,
            };
          }),
        });
        await tx.bookingOutbox.create({ data: networkEvent('network.train.upserted', t.number, trainEventData(t)) });
        let position = 0;
        for (const cls of CLASS_ORDER) {
          const code = Object.entries(CLASS_BY_CODE).find(([, name]) => name === cls)![0];
          const count = t.coaches[code] ?? 0;
          const layout = COACH_LAYOUT[cls];
          for (let i = 1; i <= count; i++) {
            const coach = await tx.coach.create({
              data: {
                trainId: train.id,
                code: `${layout.prefix}${i}`,
                class: cls,
                position: position++,
                racBerths: RAC_BERTHS_PER_COACH[cls] ?? 0,
              },
            });
            await tx.seat.createMany({
              data: Array.from({ length: layout.seats }, (_, n) => ({
                coachId: coach.id,
                number: n + 1,
                berthType: berthTypeOf(cls, n + 1),
              })),
            });
            createdSeats += layout.seats;
          }
        }
      },
      { timeout: 30_000 },
    );
    createdTrains++;
  }

  // Trains seeded before the flag existed get it; a second run changes nothing.
  for (const superfast of [true, false])
    await prisma.train.updateMany({
      where: {
        number: { in: trains.filter((t) => t.superfast === superfast).map((t) => t.number) },
        NOT: { superfast },
      },
      data: { superfast },
    });

  const allTrains = await prisma.train.findMany({ select: { id: true, number: true, runsOn: true } });
  // Quota shares of every train and class (kept when a train already has them).
  const trainIds = new Map(allTrains.map((t) => [t.number, t.id]));
  const shares = await prisma.quotaShare.createMany({
    data: trains.flatMap((t) =>
      CLASS_ORDER.flatMap((cls) => {
        const code = Object.entries(CLASS_BY_CODE).find(([, name]) => name === cls)![0];
        const trainId = trainIds.get(t.number);
        if (trainId === undefined) return [];
        return quotaShares(t.type, cls, t.coaches[code] ?? 0, COACH_LAYOUT[cls].seats).map((s) => ({
          trainId,
          class: cls,
          ...s,
        }));
      }),
    ),
    skipDuplicates: true,
  });
  const runs: { trainId: number; date: Date }[] = [];
  for (let d = 0; d < runDays; d++) {
    const date = addDays(from, d);
    const weekday = weekdayOf(date);
    for (const t of allTrains)
      if (t.runsOn.includes(weekday)) runs.push({ trainId: t.id, date: new Date(`${date}T00:00:00Z`) });
  }
  const createdRuns = await prisma.trainRun.createMany({ data: runs, skipDuplicates: true });

  // The search service's projection (its own schema), written here too so a fresh database can be
  // searched before the events above have travelled; the events keep it fresh afterwards.
  const stationDocs = await prisma.stationDoc.createMany({
    data: stations.map((s) => ({
      code: s.code,
      name: s.name,
      city: s.city,
      state: s.state,
      aliases: s.aliases ?? [],
      searchText: searchTextOf([s.name, s.city, s.code, ...(s.aliases ?? [])]),
    })),
    skipDuplicates: true,
  });
  // Train documents carry the route with times so search can answer trainsBetween on its own.
  let trainDocs = 0;
  for (const t of trains) {
    const { number: _number, ...event } = trainEventData(t);
    const doc = {
      ...event,
      stationCodes: t.stops.map((s) => s.code),
      searchText: searchTextOf([t.number, t.name, t.type.replace(/_/g, ' ')]),
    };
    const existing = await prisma.trainDoc.findUnique({ where: { number: t.number }, select: { stops: true } });
    if (!existing) {
      await prisma.trainDoc.create({ data: { number: t.number, ...doc } });
      trainDocs++;
    } else if (Array.isArray(existing.stops) && existing.stops.length === 0) {
      await prisma.trainDoc.update({ where: { number: t.number }, data: doc });
    }
  }

  const counts = {
    stations: createdStations.count,
    trains: createdTrains,
    quotaShares: shares.count,
    seats: createdSeats,
    runs: createdRuns.count,
    stationDocs: stationDocs.count,
    trainDocs,
  };
  log(
    `seed: added ${Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`,
  );
  return counts;
}

// CLI
if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('seed: DATABASE_URL is not set');
    process.exit(1);
  }
  const prisma = createPrisma(url, { applicationName: 'seed' });
  seed(prisma, { log: (l) => console.log(l), runDays: Number(process.env.SEED_RUN_DAYS ?? 60) })
    .then(() => prisma.$disconnect())
    .catch(async (err: unknown) => {
      console.error(`seed: failed: ${err instanceof Error ? err.message : String(err)}`);
      await prisma.$disconnect();
      process.exit(1);
    });
}
