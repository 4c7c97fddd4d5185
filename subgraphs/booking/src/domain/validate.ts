// Everything a client can get wrong in a reservation request, checked before it is queued:
// nothing is written for a request that fails here (BAD_USER_INPUT).
import type { Gender, PrismaClient, Quota, TrainRun } from '@tatkal/db';
import { AppError, badInput, ErrorCode, type Identity, isUuid, todayInIndia } from '@tatkal/common';
import { fareNow } from './fareOf.ts';
import type { LayoutCache, TrainLayout } from './layout.ts';
import { segmentMask } from './network.ts';
import { agentEmbargoUntil, istIso, isTatkal, opensAt } from './tatkal/windows.ts';
import type { ReservationSettings, ReserveInput, ValidRequest } from './types.ts';

/** NFC (one code point per accented letter, whichever way the client composed it), single spaces. */
const passengerName = (name: string) => name.normalize('NFC').trim().replace(/\s+/g, ' ');

/** Everything a client can get wrong, checked before any lock or write. */
export async function validateReserve(
  deps: { prisma: PrismaClient; layouts: LayoutCache; settings: ReservationSettings },
  input: ReserveInput,
  identity: Identity | null,
  now = new Date(),
): Promise<ValidRequest> {
  const quota = input.quota ?? 'GENERAL';
  checkPassengers(input.passengers, quota);
  const run = await findRun(deps, input);
  const runDate = checkNotDeparted(run, now);
  const layout = await deps.layouts.layout(run.trainId);
  const { from, to } = journeyOf(layout, input, runDate, now);
  if (!layout.classes.has(input.class)) throw badInput(`This train has no ${input.class} class`, 'class');
  if (!layout.quotas.get(input.class)?.has(quota))
    throw new AppError(ErrorCode.QUOTA_NOT_AVAILABLE, `This train has no ${quota} quota in ${input.class}`);
  const waitingRoomOpensAt = checkWindow(runDate, input.class, quota, deps.settings, identity, now);
  const fare = await fareNow(deps.prisma, {
    runId: run.id,
    cls: input.class,
    quota,
    distanceKm: to.distanceKm - from.distanceKm,
    superfast: layout.superfast,
    mask: segmentMask(from.seq, to.seq),
  });
  return {
    run,
    layout,
    from,
    to,
    mask: segmentMask(from.seq, to.seq),
    farePerPassenger: fare.totalPaise,
    fare,
    passengers: input.passengers.map((p) => ({ ...p, name: passengerName(p.name) })),
    seatIds: requestedBerths(layout, input),
    allowWaitlist: input.allowWaitlist ?? true,
    cls: input.class,
    quota,
    waitingRoomOpensAt,
  };
}

/** Most passengers on one PNR: 4 for Tatkal and Premium Tatkal, 2 on the lower-berth quota, 6 otherwise. */
export const maxPassengers = (quota: Quota) => (isTatkal(quota) ? 4 : quota === 'LOWER_BERTH' ? 2 : 6);

function checkPassengers(passengers: ReserveInput['passengers'], quota: Quota) {
  const n = passengers.length;
  if (n < 1) throw badInput('A reservation has at least one passenger', 'passengers');
  const max = maxPassengers(quota);
  if (n > max)
    throw new AppError(ErrorCode.TOO_MANY_PASSENGERS, `At most ${max} passengers per ${quota} reservation`, { max });
  passengers.forEach((p, i) => {
    const name = passengerName(p.name);
    if ([...name].length < 1 || [...name].length > 60)
      throw badInput(`Passenger ${i + 1}: name must be 1 to 60 characters`, `passengers.${i}.name`);
    // Letters of any script with their combining marks (Devanagari vowel signs, decomposed accents).
    if (!/^\p{L}[\p{L}\p{M} .'-]*$/u.test(name))
      throw badInput(
        `Passenger ${i + 1}: name may contain letters, spaces, dots, hyphens and apostrophes only`,
        `passengers.${i}.name`,
      );
    if (!Number.isInteger(p.age) || p.age < 1 || p.age > 125)
      throw badInput(`Passenger ${i + 1}: age must be between 1 and 125`, `passengers.${i}.age`);
    const refusal = quotaRefusal(quota, p);
    if (refusal) throw new AppError(ErrorCode.QUOTA_NOT_ELIGIBLE, `Passenger ${i + 1}: ${refusal}`, { quota });
  });
}

/**
 * Who a quota is for (docs/api.md): the ladies' quota, women and children under 12 travelling
 * with them; the lower-berth quota, senior citizens (men 60+, women 58+) and women 45+.
 */
function quotaRefusal(quota: Quota, p: { age: number; gender: Gender }): string | null {
  if (quota === 'LADIES' && p.gender !== 'FEMALE' && p.age >= 12)
    return 'the ladies quota is for women and children under 12';
  if (quota === 'LOWER_BERTH') {
    const senior = p.gender === 'FEMALE' ? p.age >= 45 : p.age >= 60;
    if (!senior) return 'the lower-berth quota is for men 60 or over and women 45 or over';
  }
  return null;
}

/**
 * The quota's window (windows.ts) has opened for this caller, or its waiting room has (the
 * opening is returned then): BOOKING_NOT_OPEN before, only identity-verified accounts on Tatkal,
 * agents not in its first 30 minutes (nor in its waiting room).
 */
function checkWindow(
  runDate: string,
  cls: ReserveInput['class'],
  quota: Quota,
  settings: ReservationSettings,
  identity: Identity | null,
  now: Date,
): Date | null {
  const opens = opensAt(runDate, cls, quota, settings.bookingWindowDays, settings.openingTimes);
  const waitingRoom = isTatkal(quota) && now < opens && now.getTime() >= opens.getTime() - settings.waitingRoomMs;
  if (now < opens && !waitingRoom)
    throw new AppError(ErrorCode.BOOKING_NOT_OPEN, `${quota} booking for this run opens at ${istIso(opens)}`, {
      opensAt: istIso(opens),
    });
  if (!isTatkal(quota)) return null;
  if (!identity?.verified)
    throw new AppError(ErrorCode.IDENTITY_NOT_VERIFIED, 'Verify your identity (a one-time code) to book Tatkal');
  const embargo = agentEmbargoUntil(runDate, cls, quota, settings.openingTimes)!;
  if (identity.role === 'AGENT' && now < embargo)
    throw new AppError(ErrorCode.AGENT_WINDOW_CLOSED, `Agents may book ${quota} from ${istIso(embargo)}`, {
      opensAt: istIso(embargo),
    });
  return waitingRoom ? opens : null;
}

/** The run, by id or by train number and date. */
async function findRun(deps: { prisma: PrismaClient; layouts: LayoutCache }, input: ReserveInput): Promise<TrainRun> {
  let run: TrainRun | null = null;
  if (input.runId) {
    if (!isUuid(input.runId)) throw badInput('runId is not a valid id', 'runId');
    run = await deps.layouts.run(input.runId);
  } else if (input.trainNumber && input.date) {
    run = await deps.prisma.trainRun.findFirst({
      where: { train: { number: input.trainNumber.trim() }, date: new Date(`${input.date}T00:00:00Z`) },
    });
    if (!run && !(await deps.prisma.train.findUnique({ where: { number: input.trainNumber.trim() } }))) {
      throw badInput(`Unknown train ${input.trainNumber}`, 'trainNumber');
    }
  } else {
    throw badInput('Give either runId, or trainNumber and date', 'runId');
  }
  if (!run) throw badInput('This train does not run on that date', 'date');
  if (run.cancelled) throw badInput('This run is cancelled', 'runId');
  return run;
}

/** The run's date (YYYY-MM-DD), once it is not past. */
function checkNotDeparted(run: TrainRun, now: Date): string {
  const runDate = run.date.toISOString().slice(0, 10);
  if (runDate < todayInIndia(now)) throw badInput('This run has already departed', 'date');
  return runDate;
}

/** Boarding and alighting stops, in route order, the train not yet gone from the first. */
function journeyOf(layout: TrainLayout, input: ReserveInput, runDate: string, now: Date) {
  const fromCode = input.from.trim().toUpperCase();
  const toCode = input.to.trim().toUpperCase();
  const from = layout.stops.find((s) => s.station.code === fromCode);
  const to = layout.stops.find((s) => s.station.code === toCode);
  if (!from) throw badInput(`Station ${fromCode} is not a stop of this train`, 'from');
  if (!to) throw badInput(`Station ${toCode} is not a stop of this train`, 'to');
  if (from.seq >= to.seq) throw badInput(`${fromCode} must come before ${toCode} on this train's route`, 'to');
  // The train leaves the boarding station at run date (IST midnight) + departureMin.
  const departsAt = Date.parse(`${runDate}T00:00:00+05:30`) + (from.departureMin ?? 0) * 60_000;
  if (departsAt <= now.getTime()) throw badInput('The train has already left this station', 'from');
  return { from, to };
}

/** Specific berths asked for (seat ids in passenger order), or null. */
function requestedBerths(layout: TrainLayout, input: ReserveInput): number[] | null {
  if (!input.berths || input.berths.length === 0) return null;
  if (input.berths.length !== input.passengers.length)
    throw badInput('Give one berth per passenger, or none', 'berths');
  const keys = input.berths.map((b) => `${b.coach.trim().toUpperCase()}-${b.berth}`);
  if (new Set(keys).size !== keys.length) throw badInput('The same berth is requested twice', 'berths');
  return input.berths.map((b, i) => {
    const code = b.coach.trim().toUpperCase();
    const coach = layout.coaches.get(code);
    if (!coach) throw badInput(`Berth ${i + 1}: this train has no coach ${b.coach}`, `berths.${i}.coach`);
    if (coach.class !== input.class)
      throw badInput(`Berth ${i + 1}: coach ${code} is ${coach.class}, not ${input.class}`, `berths.${i}.coach`);
    const seat = coach.berths.get(b.berth);
    if (!seat) throw badInput(`Berth ${i + 1}: coach ${code} has no berth ${b.berth}`, `berths.${i}.berth`);
    return seat.seatId;
  });
}
