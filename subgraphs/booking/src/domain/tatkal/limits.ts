// Limits per person (docs/api.md, "Limits per person"): Indian Railways' anti-tout rules, checked
// for every new reserveSeats request after validation and before it is queued.
//   - Tatkal (TQ, PT) PNRs between 10:00 and 12:00 IST of a day: 2 per account, 2 per client address;
//   - PNRs per calendar month (IST): 12 per account, 24 when identity-verified;
//   - unpaid holds per account at a time (HELD, and requests still QUEUED): 4;
//   - an AGENT account: 1 Tatkal PNR per run (a run's Tatkal opens once, the day before it leaves).
//
// Atomic across booking instances (docs/architecture.md, "Limits per person"): the requests of a
// process are claimed in group commits; each is one transaction that takes the advisory locks of
// its accounts (and, for Tatkal requests in the window, of their addresses), counts, and writes
// the claims (booking.limit_claims) of the requests every limit allows, in arrival order.
// The next request of that account counts the claim until the intake has written its
// reservation, then the reservation's status: a REFUSED, CANCELLED or EXPIRED reservation no
// longer holds anything, and a REFUSED one is no PNR. A refusal writes nothing in the database;
// its outcome is cached in Redis for the key, as the queue's other cheap refusals are.
import type { Prisma, PrismaClient, Quota } from '@tatkal/db';
import { AppError, addDays, errorOutcome, ErrorCode, type Identity, todayInIndia } from '@tatkal/common';
import { type ReserveRecords, ReservationStatus } from '../lifecycle/index.ts';
import type { ReservationSettings, ValidRequest } from '../types.ts';
import { groupCommit } from '@tatkal/common';
import { istInstant, isTatkal } from './windows.ts';

// Statuses as the lifecycle names them (no status literal outside it): a request not yet decided
// or held unpaid counts as an unpaid hold; a refused one is no PNR.
const QUEUED: string = ReservationStatus.QUEUED;
const REFUSED: string = ReservationStatus.REFUSED;
const UNPAID: string[] = [ReservationStatus.QUEUED, ReservationStatus.HELD];

/** The hours of the day (IST) in which Tatkal PNRs are counted per account and per address. */
const TATKAL_HOURS = { from: 10, to: 12 };
/**
 * A claim whose reservation was not written within this long (its process crashed between the
 * claim and the intake, or the intake failed) stops counting as queued.
 */
export const CLAIM_STALE_MS = 2 * 60_000;
/** The seed of the advisory lock keys (hashtextextended of `u:<user>`, `a:<address>`): this module's own. */
const LOCK_SEED = 0x5441_544b_4c4d;

export interface LimitDeps {
  prisma: PrismaClient;
  settings: ReservationSettings;
  /** Outcome counters (metrics): the refusal's code in lower case. */
  onOutcome?: (outcome: string) => void;
}

type Range = { from: Date; to: Date };
interface Limits {
  run: number;
  tatkal: number;
  address: number;
  month: number;
  holds: number;
}
interface Counts {
  tatkal: number;
  address: number;
  month: number;
  holds: number;
  /** Tatkal PNRs of the account on the request's run (agents only). */
  run: number;
}

/** A request waiting for its claim's group commit. */
interface Pending {
  userId: string;
  key: string;
  quota: Quota;
  runId: string;
  clientIp: string | null;
  at: Date;
  /** The booking clock when the request came: claims older than CLAIM_STALE_MS without a reservation lapse. */
  now: Date;
  window: Range | null;
  month: Range;
  limits: Limits;
}

/** The calendar month (IST) of `at`: its first instant and the next month's. */
export function monthOf(at: Date): Range {
  const today = todayInIndia(at);
  const first = `${today.slice(0, 7)}-01`;
  const next = `${addDays(`${today.slice(0, 7)}-28`, 4).slice(0, 7)}-01`;
  return { from: istInstant(first, 0), to: istInstant(next, 0) };
}

/** The Tatkal counting window (10:00-12:00 IST) that `at` falls in, or null outside it. */
export function tatkalWindowOf(at: Date): Range | null {
  const today = todayInIndia(at);
  const from = istInstant(today, TATKAL_HOURS.from);
  const to = istInstant(today, TATKAL_HOURS.to);
  return at >= from && at < to ? { from, to } : null;
}

/** 0 in a setting turns that limit off. */
const NONE = Number.MAX_SAFE_INTEGER;
const limitOf = (n: number) => (n > 0 ? n : NONE);

/** One claim batcher per queue (its deps): requests of a process are claimed in group commits. */
const batchers = new WeakMap<LimitDeps, (p: Pending) => Promise<Counts | null>>();

/**
 * Claims the request `key` against the caller's limits, or throws the refusal (cached for the
 * key; nothing written). A request counts at `now`, or at its waiting room's opening when it
 * joins one (a Tatkal request made at 09:55 is one of that day's 10:00-12:00 PNRs).
 */
export async function checkLimits(
  deps: LimitDeps,
  records: ReserveRecords,
  identity: Identity,
  /** The caller's address as the gateway signed it (ctx.clientIp); null when unknown. */
  clientIp: string | null,
  valid: ValidRequest,
  key: string,
  hash: string,
  now: Date,
): Promise<void> {
  const { userId } = identity;
  const s = deps.settings;
  const at = valid.waitingRoomOpensAt && valid.waitingRoomOpensAt > now ? valid.waitingRoomOpensAt : now;
  const window = isTatkal(valid.quota) ? tatkalWindowOf(at) : null;
  const limits: Limits = {
    run: identity.role === 'AGENT' && isTatkal(valid.quota) ? limitOf(s.agentTatkalPnrsPerRun) : NONE,
    tatkal: window ? limitOf(s.tatkalPnrsPerAccount) : NONE,
    address: window && clientIp !== null ? limitOf(s.tatkalPnrsPerAddress) : NONE,
    month: limitOf(identity.verified ? s.monthlyPnrsVerified : s.monthlyPnrs),
    holds: limitOf(s.unpaidHoldsPerAccount),
  };
  let claim = batchers.get(deps);
  if (!claim) {
    claim = createClaims(deps);
    batchers.set(deps, claim);
  }
  const counts = await claim({
    userId,
    key,
    quota: valid.quota,
    runId: valid.run.id,
    clientIp,
    at,
    now,
    window,
    month: monthOf(at),
    limits,
  });
  if (!counts) return;
  const refusal = refusalOf(counts, limits, identity.verified);
  await records.cache(userId, key, hash, errorOutcome(refusal));
  deps.onOutcome?.(refusal.code.toLowerCase());
  throw refusal;
}

/** Whether `counts` reach any of the limits. */
const reached = (c: Counts, l: Limits) =>
  c.run >= l.run || c.tatkal >= l.tatkal || c.address >= l.address || c.month >= l.month || c.holds >= l.holds;
const within = (at: Date, r: Range | null) => r !== null && at >= r.from && at < r.to;

/**
 * Group commit of claims (groupCommit of @tatkal/common), as the intake's: the requests that arrived meanwhile
 * are claimed in one transaction of three statements, so a rush costs statements per batch, not
 * per request. Resolves each request's counts when refused, null when claimed.
 */
function createClaims(deps: LimitDeps) {
  const claims = groupCommit<Pending, Counts | null>(
    () => deps.settings.batchSize,
    async (batch) => {
      const outcomes = await claimBatch(
        deps.prisma,
        deps.settings,
        batch.map((e) => e.item),
      );
      for (const [i, e] of batch.entries()) e.resolve(outcomes[i]!);
    },
  );
  return claims.submit;
}

/**
 * One transaction: the advisory locks of every account (and address, for Tatkal requests in the
 * window) in the batch, in one sorted order (no two batches wait on each other in a cycle); the
 * counts of each request from the database; then the claims of the requests that every limit
 * allows, decided in arrival order (an earlier claim of the batch counts for a later request).
 */
async function claimBatch(
  prisma: PrismaClient,
  settings: ReservationSettings,
  batch: Pending[],
): Promise<(Counts | null)[]> {
  const locks = [
    ...new Set(
      batch.flatMap((p) => [
        `u:${p.userId}`,
        ...(p.limits.address !== NONE && p.clientIp !== null ? [`a:${p.clientIp}`] : []),
      ]),
    ),
  ];
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRaw`
        SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(n, ${LOCK_SEED}::bigint) AS k
                                              FROM unnest(${locks}::text[]) n) l ORDER BY k`;
      const rows = await countsOf(tx, batch);
      const outcomes: (Counts | null)[] = [];
      const claimed: Pending[] = [];
      for (const row of [...rows].sort((x, y) => x.ord - y.ord)) {
        const p = batch[row.ord - 1]!;
        // Earlier claims of this batch count as QUEUED requests of their account and address.
        const mine = claimed.filter((c) => c.userId === p.userId);
        const counts: Counts = {
          holds: Number(row.holds) + mine.length,
          run: Number(row.on_run) + mine.filter((c) => c.runId === p.runId && isTatkal(c.quota)).length,
          month: Number(row.month) + mine.filter((c) => within(c.at, p.month)).length,
          tatkal: Number(row.tatkal) + mine.filter((c) => isTatkal(c.quota) && within(c.at, p.window)).length,
          address:
            Number(row.address) +
            claimed.filter((c) => c.clientIp === p.clientIp && isTatkal(c.quota) && within(c.at, p.window)).length,
        };
        const refused = reached(counts, p.limits);
        outcomes.push(refused ? counts : null);
        if (!refused) claimed.push(p);
      }
      if (claimed.length > 0)
        await tx.$executeRaw`
          INSERT INTO booking.limit_claims (user_id, idempotency_key, quota, run_id, client_ip, claimed_at)
          SELECT * FROM unnest(${claimed.map((p) => p.userId)}::uuid[], ${claimed.map((p) => p.key)}::text[],
                               ${claimed.map((p) => p.quota)}::booking."Quota"[],
                               ${claimed.map((p) => p.runId)}::uuid[],
                               ${claimed.map((p) => p.clientIp)}::text[], ${claimed.map((p) => p.at)}::timestamptz[])
          ON CONFLICT (user_id, idempotency_key) DO UPDATE
            SET quota = EXCLUDED.quota, run_id = EXCLUDED.run_id, client_ip = EXCLUDED.client_ip,
                claimed_at = EXCLUDED.claimed_at`;
      return outcomes;
    },
    { maxWait: settings.txMaxWaitMs, timeout: settings.txTimeoutMs },
  );
}

/**
 * Per request: the account's reservations (at their claim's time where they have one) and its
 * claims whose reservation the intake has not written yet (QUEUED while fresh); the request's own
 * key is left out (a retry of a key whose first try failed counts once).
 */
function countsOf(tx: Prisma.TransactionClient, batch: Pending[]) {
  const staleBefore = batch.map((p) => new Date(p.now.getTime() - CLAIM_STALE_MS));
  return tx.$queryRaw<{ ord: number; holds: bigint; month: bigint; tatkal: bigint; on_run: bigint; address: bigint }[]>`
    WITH req AS (
      SELECT * FROM unnest(${batch.map((p) => p.userId)}::uuid[], ${batch.map((p) => p.key)}::text[],
                           ${batch.map((p) => p.runId)}::uuid[],
                           ${batch.map((p) => p.clientIp)}::text[], ${staleBefore}::timestamptz[],
                           ${batch.map((p) => p.month.from)}::timestamptz[],
                           ${batch.map((p) => p.month.to)}::timestamptz[],
                           ${batch.map((p) => p.window?.from ?? null)}::timestamptz[],
                           ${batch.map((p) => p.window?.to ?? null)}::timestamptz[])
        WITH ORDINALITY AS t(user_id, key, run_id, ip, stale, month_from, month_to, window_from, window_to, ord)
    )
    SELECT req.ord::int AS ord, c.holds, c.month, c.tatkal, c.on_run, a.address
    FROM req
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE m.status = ANY(${UNPAID}::text[])) AS holds,
             count(*) FILTER (WHERE m.status <> ${REFUSED} AND m.at >= req.month_from AND m.at < req.month_to)
               AS month,
             count(*) FILTER (WHERE m.status <> ${REFUSED} AND m.quota IN ('TATKAL', 'PREMIUM_TATKAL')
                                AND m.at >= req.window_from AND m.at < req.window_to) AS tatkal,
             count(*) FILTER (WHERE m.status <> ${REFUSED} AND m.quota IN ('TATKAL', 'PREMIUM_TATKAL')
                                AND m.run_id = req.run_id) AS on_run
      FROM (
        SELECT r.status::text AS status, r.quota::text AS quota, r.run_id,
               coalesce(c.claimed_at, r.created_at) AS at
        FROM booking.reservations r
        LEFT JOIN booking.limit_claims c ON c.user_id = r.user_id AND c.idempotency_key = r.idempotency_key
        WHERE r.user_id = req.user_id AND r.idempotency_key IS DISTINCT FROM req.key
        UNION ALL
        SELECT ${QUEUED}::text, c.quota::text, c.run_id, c.claimed_at FROM booking.limit_claims c
        WHERE c.user_id = req.user_id AND c.idempotency_key <> req.key AND c.claimed_at > req.stale
          AND NOT EXISTS (SELECT 1 FROM booking.reservations r
                          WHERE r.user_id = c.user_id AND r.idempotency_key = c.idempotency_key)
      ) m
    ) c
    CROSS JOIN LATERAL (
      SELECT count(*) AS address FROM booking.limit_claims a
      LEFT JOIN booking.reservations r ON r.user_id = a.user_id AND r.idempotency_key = a.idempotency_key
      WHERE a.client_ip = req.ip AND a.quota IN ('TATKAL', 'PREMIUM_TATKAL')
        AND a.claimed_at >= req.window_from AND a.claimed_at < req.window_to
        AND NOT (a.user_id = req.user_id AND a.idempotency_key = req.key)
        AND (r.status::text <> ${REFUSED} OR (r.status IS NULL AND a.claimed_at > req.stale))
    ) a`;
}

function refusalOf(counts: Counts, limits: Limits, verified: boolean): AppError {
  if (counts.run >= limits.run)
    return new AppError(
      ErrorCode.AGENT_RUN_LIMIT_REACHED,
      `An agent may book at most ${limits.run} Tatkal PNR on a run`,
      { limit: limits.run },
    );
  if (counts.tatkal >= limits.tatkal)
    return new AppError(
      ErrorCode.TATKAL_LIMIT_REACHED,
      `An account may book at most ${limits.tatkal} Tatkal PNRs between 10:00 and 12:00 IST`,
      { limit: limits.tatkal },
    );
  if (counts.address >= limits.address)
    return new AppError(
      ErrorCode.TATKAL_ADDRESS_LIMIT_REACHED,
      `At most ${limits.address} Tatkal PNRs may be booked from one address between 10:00 and 12:00 IST`,
      { limit: limits.address },
    );
  if (counts.month >= limits.month)
    return new AppError(
      ErrorCode.MONTHLY_LIMIT_REACHED,
      `An account may book at most ${limits.month} PNRs a calendar month` +
        (verified ? '' : '; verify your identity to book more'),
      { limit: limits.month },
    );
  return new AppError(
    ErrorCode.UNPAID_HOLDS_LIMIT_REACHED,
    `An account may have at most ${limits.holds} unpaid or queued reservations at a time; pay or cancel one first`,
    { limit: limits.holds },
  );
}
