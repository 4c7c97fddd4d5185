// The reservation path (docs/architecture.md): validate -> Redis guard (SET NX PX) -> one Prisma
// interactive transaction with SELECT ... FOR UPDATE -> commit. Only the database decides.
import { randomInt, randomUUID } from 'node:crypto';
import { Prisma, type BerthType, type Gender, type PrismaClient, type TrainRun, type TravelClass } from '@tatkal/db';
import { AppError, badInput, ErrorCode, forbidden, IdempotencyKeyTaken, isRetryableDbError, notFound, seatLockKey, storedResponse, tryAgain, type Completion, type IdempotencyRecord, type Identity, type LockManager } from '@tatkal/common';
import { addDays, farePaise, todayInIndia } from '@tatkal/common/rail';
import { ensureInventory, lockFreeSeats, lockSeatsIfFree, occupy, release, type FreeSeatReader, type Tx } from './inventory.ts';
import type { LayoutCache, SeatInfo, TrainLayout } from './layout.ts';
import { segmentMask, type StopWithStation } from './network.ts';

export interface ReservationSettings {
  holdTtlMs: number;
  bookingWindowDays: number;
  /** Prisma interactive transaction bounds; exceeding them gives TRY_AGAIN. */
  txMaxWaitMs: number;
  txTimeoutMs: number;
}

export const defaultReservationSettings: ReservationSettings = { holdTtlMs: 10 * 60_000, bookingWindowDays: 60, txMaxWaitMs: 5_000, txTimeoutMs: 10_000 };

export interface ReservationDeps {
  prisma: PrismaClient;
  locks: LockManager;
  layouts: LayoutCache;
  /** The guard's read of free berths, shared by concurrent requests (createFreeSeatReader). */
  freeSeats: FreeSeatReader;
  settings: ReservationSettings;
  /** Seat and reservation counters for metrics; optional. */
  onOutcome?: (outcome: string) => void;
}

export interface PassengerInput {
  name: string;
  age: number;
  gender: Gender;
  berthPreference?: BerthType | null;
}

export interface ReserveInput {
  runId?: string | null;
  trainNumber?: string | null;
  date?: string | null;
  from: string;
  to: string;
  class: TravelClass;
  passengers: PassengerInput[];
  berths?: { coach: string; berth: number }[] | null;
  allowWaitlist?: boolean | null;
}

/** What the API returns for a reservation: plain JSON, so an idempotent replay is byte-identical. */
export interface ReservationView {
  id: string;
  pnr: string;
  status: string;
  runId: string;
  fromCode: string;
  toCode: string;
  class: TravelClass;
  farePaise: number;
  holdExpiresAt: string | null;
  createdAt: string;
  passengers: {
    id: string;
    name: string;
    age: number;
    gender: Gender;
    berthPreference: BerthType | null;
    status: string;
    coach: string | null;
    berth: number | null;
    berthType: BerthType | null;
    waitlistNumber: number | null;
    farePaise: number;
  }[];
}

// ───────────────────────────── validation ─────────────────────────────

interface ValidRequest {
  run: TrainRun;
  layout: TrainLayout;
  from: StopWithStation;
  to: StopWithStation;
  mask: bigint;
  farePerPassenger: number;
  passengers: PassengerInput[];
  /** Requested specific seats (ids), in passenger order. */
  seatIds: number[] | null;
  allowWaitlist: boolean;
  cls: TravelClass;
}

const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/** Everything a client can get wrong, checked before any lock or write. */
export async function validateReserve(deps: Pick<ReservationDeps, 'prisma' | 'layouts' | 'settings'>, input: ReserveInput, now = new Date()): Promise<ValidRequest> {
  const { prisma, settings } = deps;
  const n = input.passengers.length;
  if (n < 1 || n > 6) throw badInput('A reservation has 1 to 6 passengers', 'passengers');
  input.passengers.forEach((p, i) => {
    const name = p.name.trim();
    if (name.length < 1 || name.length > 60) throw badInput(`Passenger ${i + 1}: name must be 1 to 60 characters`, `passengers.${i}.name`);
    if (!/^[\p{L}][\p{L} .'-]*$/u.test(name)) throw badInput(`Passenger ${i + 1}: name may contain letters, spaces, dots, hyphens and apostrophes only`, `passengers.${i}.name`);
    if (!Number.isInteger(p.age) || p.age < 1 || p.age > 125) throw badInput(`Passenger ${i + 1}: age must be between 1 and 125`, `passengers.${i}.age`);
  });

  let run: TrainRun | null = null;
  if (input.runId) {
    if (!isUuid(input.runId)) throw badInput('runId is not a valid id', 'runId');
    run = await deps.layouts.run(input.runId);
  } else if (input.trainNumber && input.date) {
    run = await prisma.trainRun.findFirst({ where: { train: { number: input.trainNumber.trim() }, date: new Date(`${input.date}T00:00:00Z`) } });
    if (!run && !(await prisma.train.findUnique({ where: { number: input.trainNumber.trim() } }))) {
      throw badInput(`Unknown train ${input.trainNumber}`, 'trainNumber');
    }
  } else {
    throw badInput('Give either runId, or trainNumber and date', 'runId');
  }
  if (!run) throw badInput('This train does not run on that date', 'date');
  if (run.cancelled) throw badInput('This run is cancelled', 'runId');

  const today = todayInIndia(now);
  const runDate = run.date.toISOString().slice(0, 10);
  if (runDate < today) throw badInput('This run has already departed', 'date');
  if (runDate > addDays(today, settings.bookingWindowDays)) throw badInput(`Bookings open ${settings.bookingWindowDays} days before departure`, 'date');

  const layout = await deps.layouts.layout(run.trainId);
  const stops = layout.stops;
  const fromCode = input.from.trim().toUpperCase();
  const toCode = input.to.trim().toUpperCase();
  const from = stops.find((s) => s.station.code === fromCode);
  const to = stops.find((s) => s.station.code === toCode);
  if (!from) throw badInput(`Station ${fromCode} is not a stop of this train`, 'from');
  if (!to) throw badInput(`Station ${toCode} is not a stop of this train`, 'to');
  if (from.seq >= to.seq) throw badInput(`${fromCode} must come before ${toCode} on this train's route`, 'to');
  // The train leaves the boarding station at run date (IST midnight) + departureMin.
  const departsAt = Date.parse(`${runDate}T00:00:00+05:30`) + (from.departureMin ?? 0) * 60_000;
  if (departsAt <= now.getTime()) throw badInput('The train has already left this station', 'from');

  if (!layout.classes.has(input.class)) throw badInput(`This train has no ${input.class} class`, 'class');

  let seatIds: number[] | null = null;
  if (input.berths && input.berths.length > 0) {
    if (input.berths.length !== n) throw badInput('Give one berth per passenger, or none', 'berths');
    const keys = input.berths.map((b) => `${b.coach.trim().toUpperCase()}-${b.berth}`);
    if (new Set(keys).size !== keys.length) throw badInput('The same berth is requested twice', 'berths');
    seatIds = input.berths.map((b, i) => {
      const code = b.coach.trim().toUpperCase();
      const coach = layout.coaches.get(code);
      if (!coach) throw badInput(`Berth ${i + 1}: this train has no coach ${b.coach}`, `berths.${i}.coach`);
      if (coach.class !== input.class) throw badInput(`Berth ${i + 1}: coach ${code} is ${coach.class}, not ${input.class}`, `berths.${i}.coach`);
      const seat = coach.berths.get(b.berth);
      if (!seat) throw badInput(`Berth ${i + 1}: coach ${code} has no berth ${b.berth}`, `berths.${i}.berth`);
      return seat.seatId;
    });
  }

  return {
    run,
    layout,
    from,
    to,
    mask: segmentMask(from.seq, to.seq),
    farePerPassenger: farePaise(input.class, to.distanceKm - from.distanceKm),
    passengers: input.passengers.map((p) => ({ ...p, name: p.name.trim().replace(/\s+/g, ' ') })),
    seatIds,
    allowWaitlist: input.allowWaitlist ?? true,
    cls: input.class,
  };
}

// ───────────────────────────── allocation ─────────────────────────────

/** Picks seats in one coach: honours berth preferences where it can, keeps the group together. */
export function pickSeats(free: SeatInfo[], passengers: PassengerInput[], avoid: Set<number>): SeatInfo[] | null {
  const pool = free.filter((s) => !avoid.has(s.seatId));
  if (passengers.length === 0 || pool.length < passengers.length) return null;
  const chosen = new Map<number, SeatInfo>();
  const taken = new Set<number>();
  // Anchor the group at a random free seat so concurrent requests spread over the coach.
  const start = randomInt(pool.length);
  const ordered = [...pool.slice(start), ...pool.slice(0, start)];
  passengers.forEach((p, i) => {
    if (!p.berthPreference) return;
    const seat = ordered.find((s) => !taken.has(s.seatId) && s.berthType === p.berthPreference);
    if (seat) {
      chosen.set(i, seat);
      taken.add(seat.seatId);
    }
  });
  passengers.forEach((_, i) => {
    if (chosen.has(i)) return;
    const seat = ordered.find((s) => !taken.has(s.seatId))!;
    chosen.set(i, seat);
    taken.add(seat.seatId);
  });
  return passengers.map((_, i) => chosen.get(i)!);
}

function txError(err: unknown): never {
  throw isRetryableDbError(err) ? tryAgain() : err;
}

const newPnr = () => `${randomInt(1, 10)}${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;

/** The envelope of a booking event about a reservation (docs/events.md), correlated by its PNR. */
function reservationEvent(routingKey: string, reservation: { id: string; pnr: string }, data: Record<string, unknown>, at = new Date()) {
  return { type: routingKey, version: 1, occurredAt: at.toISOString(), correlationId: reservation.pnr, data: { reservationId: reservation.id, pnr: reservation.pnr, ...data } };
}

async function writeOutbox(tx: Tx, routingKey: string, reservation: { id: string; pnr: string }, data: Record<string, unknown>) {
  await tx.bookingOutbox.create({ data: { exchange: 'booking', routingKey, payload: reservationEvent(routingKey, reservation, data) } });
}

/**
 * Reserves berths (or waitlists) for an authenticated user. Returns the reservation view.
 * Specific berths: all or nothing, SEAT_UNAVAILABLE if any is taken. Auto-allocation: any free
 * berths of the class, the group in one coach when it can.
 *
 * Hot path, kept to few round trips: one read for the guard, then a transaction of one locking
 * SELECT and one write statement, which also inserts the idempotency record when `complete`
 * (idempotency.runAtomically's) is given.
 */
export async function reserveSeats(deps: ReservationDeps, userId: string, valid: ValidRequest, complete?: Completion<ReservationView>): Promise<ReservationView> {
  const { prisma, locks, settings } = deps;
  const { run, mask, passengers, cls } = valid;
  await ensureInventory(prisma, run);
  deps.layouts.markInventoryReady(run);
  const n = passengers.length;

  // 1. Redis guard: turn losers away (or to other berths) before any transaction.
  let guard: Guard;
  if (valid.seatIds) {
    // A plain read first: a berth already sold is refused without locking anything.
    const taken = await prisma.$queryRaw<{ seat_id: number }[]>`
      SELECT seat_id FROM booking.run_seats WHERE run_id = ${run.id}::uuid AND seat_id = ANY(${valid.seatIds}::int[]) AND (occupied_mask & ${mask}) <> 0`;
    if (taken.length) throw outcome(deps, seatUnavailable());
    const res = await locks.tryLock([...valid.seatIds].sort((a, b) => a - b).map((id) => seatLockKey(run.id, id)));
    if (res.busy.length) {
      await locks.release(res.acquired, res.token);
      throw outcome(deps, seatUnavailable());
    }
    guard = { picked: valid.seatIds, anchor: valid.seatIds[0]!, keys: res.acquired, token: res.token, soldOut: false };
  } else {
    guard = await guardAutoAllocation(deps, run.id, valid);
    if (guard.soldOut && !valid.allowWaitlist) {
      throw outcome(deps, new AppError(ErrorCode.SOLD_OUT, `Not enough berths are free in ${cls} for this journey`));
    }
  }

  // 2. The transaction: the only place where a berth is decided.
  try {
    const view = await prisma
      .$transaction(
        async (tx) => {
          let seatIds: number[];
          if (valid.seatIds) {
            const rows = await tx.$queryRaw<{ seat_id: number; occupied_mask: bigint }[]>`
              SELECT seat_id, occupied_mask FROM booking.run_seats
              WHERE run_id = ${run.id}::uuid AND seat_id = ANY(${valid.seatIds}::int[])
              ORDER BY seat_id FOR UPDATE NOWAIT`.catch((err: unknown) => {
              // Another transaction is booking one of these berths right now.
              if (/55P03|could not obtain lock/.test(String((err as Error).message))) throw seatUnavailable();
              throw err;
            });
            if (rows.length !== valid.seatIds.length || rows.some((r) => (r.occupied_mask & mask) !== 0n)) throw seatUnavailable();
            seatIds = valid.seatIds;
          } else if (guard.soldOut) {
            // The guard's read found too few free berths: waitlisted without a locking scan. A
            // berth freed meanwhile goes to the waitlist in order (promoteWaitlist, and the sweeper
            // for a waitlisting that committed after the promotion that could have seen it).
            seatIds = [];
          } else {
            // The guard's berths by primary key; only if some were taken meanwhile (or Redis is
            // down), a search for the free berths nearest them.
            const got = await lockSeatsIfFree(tx, run.id, guard.picked, mask);
            const more = await lockFreeSeats(tx, run.id, cls, mask, { exclude: got, anchor: guard.anchor, limit: n - got.length });
            // Keep the guard's order (it matched preferences) for the berths we did get.
            seatIds = [...guard.picked.filter((id) => got.includes(id)), ...more];
          }
          if (seatIds.length < n && !valid.allowWaitlist) throw new AppError(ErrorCode.SOLD_OUT, `Not enough berths are free in ${cls} for this journey`);
          const view = await writeReservation(tx, userId, valid, seatIds.length < n ? null : seatIds, settings, complete?.record);
          complete?.recorded(view);
          return view;
        },
        // READ COMMITTED (PostgreSQL's default, not set explicitly: that costs a statement): FOR
        // UPDATE re-checks the mask on the newest version of a row another transaction changed.
        { maxWait: settings.txMaxWaitMs, timeout: settings.txTimeoutMs },
      )
      .catch(txError);
    deps.onOutcome?.(view.status === 'HELD' ? 'held' : 'waitlisted');
    return view;
  } catch (err) {
    throw outcome(deps, err);
  } finally {
    await locks.release(guard.keys, guard.token);
  }
}

function outcome(deps: ReservationDeps, err: unknown): unknown {
  // IdempotencyKeyTaken: a concurrent retry of a request that finished first; it replays that one.
  deps.onOutcome?.(err instanceof AppError ? err.code.toLowerCase() : err instanceof IdempotencyKeyTaken ? 'replayed' : 'error');
  return err;
}

const seatUnavailable = () => new AppError(ErrorCode.SEAT_UNAVAILABLE, 'That berth is no longer available for this journey; choose another or let us allocate one');

interface Guard {
  /** Berths to try first in the transaction, in passenger order. */
  picked: number[];
  /** Where the transaction looks for other berths: near the picked ones (the same coach). */
  anchor: number;
  /** Redis lock keys held (released after the transaction) and their token. */
  keys: string[];
  token: string;
  soldOut: boolean;
}

/**
 * Auto-allocation guard: one read of the free berths, then (in memory, from the cached layout)
 * a coach with room for the whole group chosen at random so concurrent requests spread out,
 * berths picked there and locked in Redis with SET NX; berths someone else holds are swapped
 * for others, a few rounds at most. No transaction is opened here.
 */
async function guardAutoAllocation(deps: ReservationDeps, runId: string, valid: ValidRequest): Promise<Guard> {
  const n = valid.passengers.length;
  const free = await deps.freeSeats(runId, valid.cls, valid.mask);
  const anyAnchor = free.length ? free[randomInt(free.length)]! : 0;
  const none: Guard = { picked: [], anchor: anyAnchor, keys: [], token: '', soldOut: free.length < n };
  if (none.soldOut) return none;
  const byCoach = new Map<string, SeatInfo[]>();
  for (const id of free) {
    const seat = valid.layout.seats.get(id);
    if (!seat) continue;
    const list = byCoach.get(seat.coach);
    if (list) list.push(seat);
    else byCoach.set(seat.coach, [seat]);
  }
  const coaches = [...byCoach.values()];
  const roomy = coaches.filter((c) => c.length >= n);
  const order = roomy.length ? shuffle(roomy) : coaches.sort((a, b) => b.length - a.length);
  const busy = new Set<number>();
  for (const seats of order.slice(0, 3)) {
    seats.sort((a, b) => a.number - b.number);
    const group = valid.passengers.slice(0, Math.min(n, seats.length));
    for (let round = 0; round < 3; round++) {
      const pick = pickSeats(seats, group, busy);
      if (!pick) break;
      const picked = pick.map((s) => s.seatId);
      const res = await deps.locks.tryLock(picked.map((id) => seatLockKey(runId, id)));
      // Redis down: the database alone decides (SKIP LOCKED spreads the load).
      if (res.unavailable) return { ...none, picked, anchor: picked[0]! };
      if (res.busy.length === 0) return { picked, anchor: picked[0]!, keys: res.acquired, token: res.token, soldOut: false };
      // Release and re-pick, so the group stays together rather than keeping scattered berths.
      await deps.locks.release(res.acquired, res.token);
      for (const id of picked) if (res.busy.includes(seatLockKey(runId, id))) busy.add(id);
    }
  }
  // Everything tried is being booked right now: the transaction finds what is left (SKIP LOCKED).
  return none;
}

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * Writes a new reservation in one statement: the reservation, its passengers, the occupancy
 * rows and masks of its berths (`seatIds`, in passenger order) or, waitlisted (`seatIds` null),
 * its WL numbers, its outbox event and, given `record`, the idempotency record whose response is
 * this view (IdempotencyKeyTaken, rolling all of it back, when a request with the same key
 * recorded first). The view is built here from what was written, so nothing is read back.
 *
 * The WL counter of (run, class) is one row every waitlisted booking updates: it is taken inside
 * this statement, so its row lock is held for the rest of the statement and the commit only.
 */
async function writeReservation(tx: Tx, userId: string, valid: ValidRequest, seatIds: number[] | null, settings: ReservationSettings, record?: IdempotencyRecord): Promise<ReservationView> {
  const now = new Date();
  const id = randomUUID();
  const pnr = newPnr();
  const status = seatIds ? 'HELD' : 'WAITLISTED';
  const n = valid.passengers.length;
  const holdExpiresAt = seatIds ? new Date(now.getTime() + settings.holdTtlMs).toISOString() : null;
  const farePaise = valid.farePerPassenger * n;
  const passengers: ReservationView['passengers'] = valid.passengers.map((p, i) => {
    const seat = seatIds ? valid.layout.seats.get(seatIds[i]!)! : null;
    return {
      id: randomUUID(),
      name: p.name,
      age: p.age,
      gender: p.gender,
      berthPreference: p.berthPreference ?? null,
      status,
      coach: seat?.coach ?? null,
      berth: seat?.number ?? null,
      berthType: seat?.berthType ?? null,
      waitlistNumber: null, // filled in below for a waitlisted reservation
      farePaise: valid.farePerPassenger,
    };
  });
  const routingKey = seatIds ? 'reservation.held' : 'reservation.waitlisted';
  const event = seatIds ? { userId, farePaise, holdExpiresAt } : { userId };
  // A waitlisted event gets `data.waitlist` (its WL numbers) from the statement.
  const payload = reservationEvent(routingKey, { id, pnr }, event, now);
  const seats = seatIds ?? [];
  const { run, from, to, mask, cls } = valid;
  const view: ReservationView = {
    id,
    pnr,
    status,
    runId: run.id,
    fromCode: from.station.code,
    toCode: to.station.code,
    class: cls,
    farePaise,
    holdExpiresAt,
    createdAt: now.toISOString(),
    passengers,
  };
  // The response a retry replays: this view, with its WL numbers (null here) set by the statement.
  const idempotency = record
    ? Prisma.sql`INSERT INTO ${Prisma.raw(record.table)} (user_id, operation, key, request_hash, response, completed_at, locked_until)
                 SELECT ${record.userId}, ${record.operation}, ${record.key}, ${record.requestHash},
                        CASE WHEN wl.last IS NULL THEN resp.j
                             ELSE jsonb_set(resp.j, '{data,passengers}', (
                               SELECT jsonb_agg(jsonb_set(p.value, '{waitlistNumber}', to_jsonb(wl.last - ${n}::int + p.ord::int)) ORDER BY p.ord)
                               FROM jsonb_array_elements(resp.j -> 'data' -> 'passengers') WITH ORDINALITY AS p(value, ord)))
                        END,
                        now(), now()
                 FROM wl, (SELECT ${storedResponse(view)}::jsonb AS j) AS resp
                 ON CONFLICT (user_id, operation, key) DO NOTHING
                 RETURNING 1 AS inserted`
    : Prisma.sql`SELECT 1 AS inserted`;
  const waitlist = seatIds
    ? Prisma.sql`SELECT NULL::int AS last`
    : Prisma.sql`INSERT INTO booking.waitlist_counters (run_id, class, last) VALUES (${run.id}::uuid, ${cls}::booking."TravelClass", ${n})
                 ON CONFLICT (run_id, class) DO UPDATE SET last = booking.waitlist_counters.last + ${n}
                 RETURNING last`;
  // Data-modifying CTEs all run, and foreign keys are checked at the end of the statement.
  const rows = await tx.$queryRaw<{ last: number | null; recorded: number }[]>`
    WITH wl AS (${waitlist}),
    r AS (
      INSERT INTO booking.reservations (id, pnr, user_id, run_id, from_seq, to_seq, class, status, fare_paise, hold_expires_at, created_at, updated_at)
      VALUES (${id}::uuid, ${pnr}, ${userId}::uuid, ${run.id}::uuid, ${from.seq}, ${to.seq}, ${cls}::booking."TravelClass",
              ${status}::booking."ReservationStatus", ${farePaise}, ${holdExpiresAt}::timestamptz, ${now}, ${now})
    ), p AS (
      INSERT INTO booking.passengers (id, reservation_id, position, name, age, gender, berth_preference, status, seat_id, coach_code, berth_number, berth_type, waitlist_number, fare_paise)
      SELECT t.id, ${id}::uuid, t.ord::int, t.name, t.age, t.gender::booking."Gender", t.pref::booking."BerthType", ${status}::booking."PassengerStatus",
             t.seat_id, t.coach, t.berth, t.berth_type::booking."BerthType", (SELECT last FROM wl) - ${n}::int + t.ord::int, ${valid.farePerPassenger}
      FROM unnest(${passengers.map((p) => p.id)}::uuid[], ${passengers.map((p) => p.name)}::text[], ${passengers.map((p) => p.age)}::int[],
                  ${passengers.map((p) => p.gender)}::text[], ${passengers.map((p) => p.berthPreference)}::text[],
                  ${passengers.map((_, i) => seats[i] ?? null)}::int[], ${passengers.map((p) => p.coach)}::text[], ${passengers.map((p) => p.berth)}::int[],
                  ${passengers.map((p) => p.berthType)}::text[])
           WITH ORDINALITY AS t(id, name, age, gender, pref, seat_id, coach, berth, berth_type, ord)
    ), o AS (
      INSERT INTO booking.seat_occupancy (run_id, seat_id, segment, passenger_id, reservation_id)
      SELECT ${run.id}::uuid, t.seat_id, g.segment, t.id, ${id}::uuid
      FROM unnest(${passengers.map((p) => p.id)}::uuid[], ${seats}::int[]) AS t(id, seat_id)
      CROSS JOIN generate_series(${from.seq}::int, ${to.seq - 1}::int) AS g(segment)
      WHERE t.seat_id IS NOT NULL
    ), s AS (
      UPDATE booking.run_seats SET occupied_mask = occupied_mask | ${mask}
      WHERE run_id = ${run.id}::uuid AND seat_id = ANY(${seats}::int[])
    ), ob AS (
      INSERT INTO booking.outbox (id, exchange, routing_key, payload)
      SELECT ${randomUUID()}::uuid, 'booking', ${routingKey},
             CASE WHEN wl.last IS NULL THEN ${JSON.stringify(payload)}::jsonb
                  ELSE jsonb_set(${JSON.stringify(payload)}::jsonb, '{data,waitlist}', to_jsonb(ARRAY(SELECT wl.last - ${n}::int + g FROM generate_series(1, ${n}::int) g ORDER BY g)))
             END
      FROM wl
    ), idem AS (${idempotency})
    SELECT last, (SELECT count(*) FROM idem)::int AS recorded FROM wl`;
  if (rows[0]!.recorded === 0) throw new IdempotencyKeyTaken();
  const last = rows[0]!.last;
  if (!seatIds) passengers.forEach((p, i) => (p.waitlistNumber = last! - n + 1 + i));
  return view;
}

type ReservationRow = Awaited<ReturnType<PrismaClient['reservation']['findFirstOrThrow']>> & {
  passengers: Awaited<ReturnType<PrismaClient['passenger']['findFirstOrThrow']>>[];
};

export function toView(r: ReservationRow, fromCode: string, toCode: string): ReservationView {
  const active = r.passengers.filter((p) => p.status !== 'CANCELLED');
  return {
    id: r.id,
    pnr: r.pnr,
    status: r.status,
    runId: r.runId,
    fromCode,
    toCode,
    class: r.class,
    farePaise: active.reduce((sum, p) => sum + p.farePaise, 0),
    holdExpiresAt: r.status === 'HELD' && r.holdExpiresAt ? r.holdExpiresAt.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
    passengers: [...r.passengers]
      .sort((a, b) => a.position - b.position)
      .map((p) => ({
        id: p.id,
        name: p.name,
        age: p.age,
        gender: p.gender,
        berthPreference: p.berthPreference,
        status: p.status,
        coach: p.status === 'CANCELLED' || p.status === 'WAITLISTED' ? null : p.coachCode,
        berth: p.status === 'CANCELLED' || p.status === 'WAITLISTED' ? null : p.berthNumber,
        berthType: p.status === 'CANCELLED' || p.status === 'WAITLISTED' ? null : p.berthType,
        waitlistNumber: p.status === 'WAITLISTED' ? p.waitlistNumber : null,
        farePaise: p.farePaise,
      })),
  };
}

/** Loads the current view of a reservation (queries; not the stored mutation response). */
export async function loadView(db: Tx | PrismaClient, where: { id: string } | { pnr: string }): Promise<ReservationView | null> {
  const r = await (db as Tx).reservation.findUnique({ where: where as { id: string }, include: { passengers: true } });
  if (!r) return null;
  const stops = await (db as Tx).trainStop.findMany({
    where: { train: { runs: { some: { id: r.runId } } }, seq: { in: [r.fromSeq, r.toSeq] } },
    include: { station: true },
  });
  const code = (seq: number) => stops.find((s) => s.seq === seq)!.station.code;
  return toView(r, code(r.fromSeq), code(r.toSeq));
}

export function canRead(identity: Identity | null, ownerId: string): boolean {
  return !!identity && (identity.role === 'ADMIN' || identity.userId === ownerId);
}

// ─────────────────────── releasing berths and the waitlist ───────────────────────

/**
 * Promotes waitlisted reservations of (run, class) in WL order: each whose whole group fits in
 * what is free gets berths and a fresh hold. A group that does not fit does not block a later one
 * that does (it keeps its place). Runs inside the transaction that freed the berths.
 */
export async function promoteWaitlist(tx: Tx, runId: string, cls: TravelClass, settings: ReservationSettings, limit = 50): Promise<string[]> {
  const waiting = await tx.$queryRaw<{ id: string; from_seq: number; to_seq: number }[]>`
    SELECT r.id, r.from_seq, r.to_seq FROM booking.reservations r
    WHERE r.run_id = ${runId}::uuid AND r.class = ${cls}::booking."TravelClass" AND r.status = 'WAITLISTED'
    ORDER BY (SELECT min(p.waitlist_number) FROM booking.passengers p WHERE p.reservation_id = r.id AND p.status = 'WAITLISTED')
    LIMIT ${limit}
    FOR UPDATE OF r SKIP LOCKED`;
  const promoted: string[] = [];
  for (const w of waiting) {
    const passengers = await tx.passenger.findMany({ where: { reservationId: w.id, status: 'WAITLISTED' }, orderBy: { position: 'asc' } });
    if (passengers.length === 0) continue;
    const mask = segmentMask(w.from_seq, w.to_seq);
    const seatIds = await lockFreeSeats(tx, runId, cls, mask, { exclude: [], anchor: 0, limit: passengers.length });
    if (seatIds.length < passengers.length) continue;
    const seats = await tx.seat.findMany({ where: { id: { in: seatIds } }, include: { coach: true } });
    const byId = new Map(seats.map((s) => [s.id, s]));
    for (const [i, p] of passengers.entries()) {
      const seat = byId.get(seatIds[i]!)!;
      await tx.passenger.update({
        where: { id: p.id },
        data: { status: 'HELD', seatId: seat.id, coachCode: seat.coach.code, berthNumber: seat.number, berthType: seat.berthType },
      });
    }
    const reservation = await tx.reservation.update({ where: { id: w.id }, data: { status: 'HELD', holdExpiresAt: new Date(Date.now() + settings.holdTtlMs) } });
    await occupy(tx, runId, w.id, passengers.map((p, i) => ({ seatId: seatIds[i]!, passengerId: p.id })), w.from_seq, w.to_seq, mask);
    await writeOutbox(tx, 'reservation.promoted', reservation, { userId: reservation.userId, holdExpiresAt: reservation.holdExpiresAt });
    promoted.push(w.id);
  }
  return promoted;
}

/**
 * Promotes waitlists that could move up but were not promoted: each promotion (cancellation,
 * expired hold) sees only waitlistings committed before it, so one that committed just after the
 * berth was freed waits here for the sweeper. Finds (run, class) pairs of runs not yet departed
 * with a waitlisted journey that some berth of the class is free for; promotes each in its own
 * transaction.
 */
export async function promoteStrandedWaitlists(prisma: PrismaClient, settings: ReservationSettings): Promise<number> {
  const stranded = await prisma.$queryRaw<{ run_id: string; class: TravelClass }[]>`
    SELECT DISTINCT w.run_id, w.class
    FROM (SELECT DISTINCT run_id, class, from_seq, to_seq FROM booking.reservations WHERE status = 'WAITLISTED') w
    JOIN booking.train_runs tr ON tr.id = w.run_id
    -- Not for a run that has left its origin (a date before today in India) or was cancelled.
    WHERE tr.date >= (now() AT TIME ZONE 'Asia/Kolkata')::date AND NOT tr.cancelled
      AND EXISTS (
        SELECT 1 FROM booking.run_seats s
        WHERE s.run_id = w.run_id AND s.class = w.class
          AND (s.occupied_mask & ((1::bigint << w.to_seq) - (1::bigint << w.from_seq))) = 0)`;
  let promoted = 0;
  for (const s of stranded) {
    const ids = await prisma.$transaction((tx) => promoteWaitlist(tx, s.run_id, s.class, settings), { timeout: 30_000, maxWait: 10_000 });
    promoted += ids.length;
  }
  return promoted;
}

/** Frees the berths of the given passengers of a locked reservation. */
async function freePassengers(tx: Tx, r: { id: string; runId: string; fromSeq: number; toSeq: number }, passengerIds: string[]) {
  const passengers = await tx.passenger.findMany({ where: { id: { in: passengerIds } } });
  const seated = passengers.filter((p) => p.seatId !== null && (p.status === 'HELD' || p.status === 'CONFIRMED'));
  await release(tx, r.runId, seated.map((p) => ({ seatId: p.seatId!, passengerId: p.id })), segmentMask(r.fromSeq, r.toSeq));
  await tx.passenger.updateMany({ where: { id: { in: passengerIds } }, data: { status: 'CANCELLED' } });
}

/**
 * Expires unpaid holds whose time is up, in batches that several booking instances can run at
 * once (SKIP LOCKED), frees their berths and promotes the waitlist. Returns how many expired.
 */
export async function expireHolds(prisma: PrismaClient, settings: ReservationSettings, batch = 100): Promise<number> {
  return prisma.$transaction(
    async (tx) => {
      const expired = await tx.$queryRaw<{ id: string; run_id: string; class: TravelClass; pnr: string; from_seq: number; to_seq: number }[]>`
        SELECT id, run_id, class, pnr, from_seq, to_seq FROM booking.reservations
        WHERE status = 'HELD' AND hold_expires_at < now()
        ORDER BY hold_expires_at LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`;
      for (const r of expired) {
        const passengers = await tx.passenger.findMany({ where: { reservationId: r.id, status: 'HELD' }, select: { id: true, seatId: true } });
        await release(tx, r.run_id, passengers.filter((p) => p.seatId !== null).map((p) => ({ seatId: p.seatId!, passengerId: p.id })), segmentMask(r.from_seq, r.to_seq));
        await tx.passenger.updateMany({ where: { reservationId: r.id, status: 'HELD' }, data: { status: 'CANCELLED' } });
        await tx.reservation.update({ where: { id: r.id }, data: { status: 'EXPIRED' } });
        await writeOutbox(tx, 'reservation.expired', { id: r.id, pnr: r.pnr }, {});
      }
      const classes = new Map(expired.map((r) => [`${r.run_id}|${r.class}`, r]));
      for (const r of classes.values()) await promoteWaitlist(tx, r.run_id, r.class, settings);
      return expired.length;
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}

export interface CancelInput {
  pnr: string;
  passengerIds?: string[] | null;
}

/** Cancels passengers (all by default) of a PNR the caller owns (or any, for an admin). */
export async function cancelReservation(deps: ReservationDeps, identity: Identity, input: CancelInput): Promise<ReservationView> {
  const pnr = input.pnr.trim();
  if (!/^\d{10}$/.test(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
  if (input.passengerIds && (input.passengerIds.length === 0 || new Set(input.passengerIds).size !== input.passengerIds.length)) {
    throw badInput('passengerIds must list distinct passengers of this PNR', 'passengerIds');
  }
  return deps.prisma
    .$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM booking.reservations WHERE pnr = ${pnr} FOR UPDATE`;
        if (!rows[0]) throw notFound(`No reservation with PNR ${pnr}`);
        const r = await tx.reservation.findUniqueOrThrow({ where: { id: rows[0].id }, include: { passengers: true } });
        if (!canRead(identity, r.userId)) throw forbidden('This PNR belongs to another user');
        if (r.status === 'CANCELLED' || r.status === 'EXPIRED') throw new AppError(ErrorCode.INVALID_STATE, `This reservation is already ${r.status.toLowerCase()}`);
        const active = r.passengers.filter((p) => p.status !== 'CANCELLED');
        const ids = input.passengerIds ?? active.map((p) => p.id);
        for (const id of ids) {
          if (!active.some((p) => p.id === id)) throw badInput(`Passenger ${id} is not an active passenger of this PNR`, 'passengerIds');
        }
        const wasPaid = r.status === 'CONFIRMED';
        const cancelled = active.filter((p) => ids.includes(p.id));
        await freePassengers(tx, r, ids);
        const allGone = cancelled.length === active.length;
        const updated = await tx.reservation.update({
          where: { id: r.id },
          data: allGone ? { status: 'CANCELLED', cancelledAt: new Date() } : {},
        });
        await writeOutbox(tx, 'reservation.cancelled', updated, {
          userId: r.userId,
          passengerIds: ids,
          refundPaise: wasPaid ? cancelled.reduce((sum, p) => sum + p.farePaise, 0) : 0,
          fullyCancelled: allGone,
        });
        await promoteWaitlist(tx, r.runId, r.class, deps.settings);
        return (await loadView(tx, { id: r.id }))!;
      },
      { maxWait: deps.settings.txMaxWaitMs, timeout: deps.settings.txTimeoutMs },
    )
    .catch(txError);
}

/** Runs `fn` in the caller's transaction (e.g. with an inbox insert) or in a new one. */
function inTransaction<T>(db: PrismaClient | Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // A transaction client has no $disconnect (Prisma 7 gives it a $transaction, for nesting).
  return '$disconnect' in db ? db.$transaction(fn) : fn(db);
}

export type ConfirmOutcome = 'CONFIRMED' | 'ALREADY_CONFIRMED' | 'REACQUIRED' | 'REFUND_REQUIRED' | 'NOT_FOUND';

/**
 * Payment succeeded: the hold becomes a booking. A hold that expired meanwhile gets its same
 * berths back if they are still free; otherwise the payment must be refunded.
 */
export async function confirmHold(db: PrismaClient | Tx, reservationId: string): Promise<ConfirmOutcome> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<{ status: string; pnr: string; user_id: string }[]>`
      SELECT status::text AS status, pnr, user_id::text FROM booking.reservations WHERE id = ${reservationId}::uuid FOR UPDATE`;
    const locked = rows[0];
    if (!locked) return 'NOT_FOUND';
    if (locked.status === 'CONFIRMED') return 'ALREADY_CONFIRMED';
    if (locked.status === 'HELD') {
      // The common case, once per payment of a rush: one raw statement (no ORM query compiled).
      const payload = reservationEvent('reservation.confirmed', { id: reservationId, pnr: locked.pnr }, { userId: locked.user_id });
      await tx.$executeRaw`
        WITH p AS (
          UPDATE booking.passengers SET status = 'CONFIRMED' WHERE reservation_id = ${reservationId}::uuid AND status = 'HELD'
        ), r AS (
          UPDATE booking.reservations SET status = 'CONFIRMED', confirmed_at = now(), hold_expires_at = NULL, updated_at = now()
          WHERE id = ${reservationId}::uuid
        )
        INSERT INTO booking.outbox (id, exchange, routing_key, payload)
        VALUES (${randomUUID()}::uuid, 'booking', 'reservation.confirmed', ${JSON.stringify(payload)}::jsonb)`;
      return 'CONFIRMED';
    }
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
    if (r.status === 'EXPIRED') {
      const mask = segmentMask(r.fromSeq, r.toSeq);
      const wanted = r.passengers.filter((p) => p.seatId !== null).map((p) => p.seatId!).sort((a, b) => a - b);
      const free = wanted.length === r.passengers.length
        ? await tx.$queryRaw<{ seat_id: number }[]>`
            SELECT seat_id FROM booking.run_seats WHERE run_id = ${r.runId}::uuid AND seat_id = ANY(${wanted}::int[]) AND (occupied_mask & ${mask}) = 0
            ORDER BY seat_id FOR UPDATE`
        : [];
      if (free.length === r.passengers.length) {
        await occupy(tx, r.runId, r.id, r.passengers.map((p) => ({ seatId: p.seatId!, passengerId: p.id })), r.fromSeq, r.toSeq, mask);
        await tx.passenger.updateMany({ where: { reservationId }, data: { status: 'CONFIRMED' } });
        const updated = await tx.reservation.update({ where: { id: reservationId }, data: { status: 'CONFIRMED', confirmedAt: new Date(), holdExpiresAt: null } });
        await writeOutbox(tx, 'reservation.confirmed', updated, { userId: r.userId, reacquired: true });
        return 'REACQUIRED';
      }
    }
    await writeOutbox(tx, 'reservation.refund_required', r, { userId: r.userId, status: r.status, refundPaise: r.farePaise });
    return 'REFUND_REQUIRED';
  });
}

/** Payment failed: the hold is released at once and its berths go to the waitlist. */
export async function releaseHold(db: PrismaClient | Tx, reservationId: string, settings: ReservationSettings): Promise<'RELEASED' | 'NOT_HELD'> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM booking.reservations WHERE id = ${reservationId}::uuid AND status = 'HELD' FOR UPDATE`;
    if (!rows[0]) return 'NOT_HELD';
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
    await freePassengers(tx, r, r.passengers.filter((p) => p.status === 'HELD').map((p) => p.id));
    const updated = await tx.reservation.update({ where: { id: reservationId }, data: { status: 'EXPIRED' } });
    await writeOutbox(tx, 'reservation.released', updated, { userId: r.userId });
    await promoteWaitlist(tx, r.runId, r.class, settings);
    return 'RELEASED';
  });
}
