// The ledger check of a chaos run: the provider's money against booking's tickets and payment's
// records, seats, PNRs, retries, DLQs and outboxes. Every check lists its violations; the run
// fails on any.
//
// The money identity, per captured payment and in total, in paise:
//   captured = fares of the passengers still CONFIRMED (or RAC/WL on a confirmed ticket)
//            + refunds the provider paid out + cancellation charges kept
// where a cancelled passenger's charge kept is its fare minus the refund booking granted it (the
// rule table), and a payment whose reservation never got (or lost) its berths is refunded whole.
// A captured payment is thus exactly one of: a CONFIRMED reservation (nothing refunded), one
// full refund (the reservation EXPIRED or was CANCELLED before it confirmed), or a cancellation
// (some or all passengers cancelled, each refunded by the rules): never a confirmed ticket and a
// full refund, never money kept without a ticket or a charge.
import type { PrismaClient } from '@tatkal/db';
import { doubleBookingAudit } from '../../packages/testkit/src/trainRun.ts';
import type { FaultRecord } from './faults.ts';
import type { ProviderPayment, ProviderRefund, State } from './state.ts';

const FINAL = new Set(['CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUSED']);
const captured = (p: ProviderPayment) => ['succeeded', 'refunded', 'partially_refunded'].includes(p.status);

/** What still moves: empty once the system has settled. */
export function unsettled(s: State, answered: string[]): string[] {
  const left: string[] = [];
  const notFinal = [...new Set([...answered, ...s.reservations.keys()])].filter(
    (id) => !FINAL.has(s.reservations.get(id)?.status ?? 'missing'),
  );
  if (notFinal.length) left.push(`${notFinal.length} PNRs not final`);
  const pendingDeliveries = s.provider.deliveries.filter((d) => d.status === 'pending').length;
  if (pendingDeliveries) left.push(`${pendingDeliveries} webhook deliveries pending`);
  const pendingRefunds = s.provider.refunds.filter((r) => r.status !== 'succeeded').length;
  if (pendingRefunds) left.push(`${pendingRefunds} provider refunds pending`);
  const dbPendingRefunds = s.refunds.filter((r) => r.status === 'PENDING').length;
  if (dbPendingRefunds) left.push(`${dbPendingRefunds} refunds PENDING in payment`);
  const byRef = new Map(s.payments.map((p) => [p.providerRef, p]));
  const unrecorded = s.provider.payments.filter((p) => captured(p) && byRef.get(p.id)?.status === 'PENDING').length;
  if (unrecorded) left.push(`${unrecorded} captured payments still PENDING in payment`);
  if (s.outbox.booking + s.outbox.payment)
    left.push(`outboxes: booking ${s.outbox.booking}, payment ${s.outbox.payment}`);
  for (const q of s.queues)
    if (q.messages && !q.queue.endsWith('.unrouted')) left.push(`${q.queue}: ${q.messages} messages`);
  // A message being handled is not counted in its queue: the money itself says when it is done.
  const unbalanced = moneyLedger(s).moneyViolations.length;
  if (unbalanced) left.push(`money not yet balanced (${unbalanced} lines)`);
  return left;
}

/** The money identity per captured payment and in total (see the top of this file). */
export function moneyLedger(s: State) {
  const money = {
    capturedPayments: 0,
    capturedPaise: 0,
    confirmedFaresPaise: 0,
    refundedPaise: 0,
    chargesKeptPaise: 0,
  };
  const byOutcome: Record<string, number> = {};
  const refundsOf = new Map<string, ProviderRefund[]>();
  for (const r of s.provider.refunds) refundsOf.set(r.payment, [...(refundsOf.get(r.payment) ?? []), r]);
  const dbByRef = new Map(s.payments.map((p) => [p.providerRef, p]));
  const capturedPerReservation = new Map<string, number>();

  // ── money: every captured payment is a confirmed ticket, a full refund or a cancellation ──
  const moneyViolations: string[] = [];
  for (const p of s.provider.payments.filter(captured)) {
    const rid = p.metadata.reservationId ?? '?';
    // A reservation's ticket and charges pay for one capture only: a second is money without a ticket.
    const first = !capturedPerReservation.has(rid);
    const r = s.reservations.get(rid);
    capturedPerReservation.set(rid, (capturedPerReservation.get(rid) ?? 0) + 1);
    const refunds = refundsOf.get(p.id) ?? [];
    const refunded = refunds.filter((x) => x.status === 'succeeded').reduce((a, x) => a + x.amountPaise, 0);
    const passengers = first ? (s.passengers.get(rid) ?? []) : [];
    const cancelled = passengers.filter((x) => x.status === 'CANCELLED' && x.refundPaise !== null);
    const kept = cancelled.reduce((a, x) => a + (x.farePaise - (x.refundPaise ?? 0)), 0);
    const grantedRefund = r?.confirmedAt ? cancelled.reduce((a, x) => a + (x.refundPaise ?? 0), 0) : 0;
    const confirmedFare =
      r?.status === 'CONFIRMED'
        ? passengers.filter((x) => x.status !== 'CANCELLED').reduce((a, x) => a + x.farePaise, 0)
        : 0;
    money.capturedPayments++;
    money.capturedPaise += p.amountPaise;
    money.refundedPaise += refunded;
    money.confirmedFaresPaise += confirmedFare;
    // Charges are kept only on what was confirmed: a hold cancelled before its payment was seen
    // refunds nothing by the rules (HELD_UNPAID) and its late payment comes back whole.
    const chargesKept = r?.confirmedAt && (r.status === 'CONFIRMED' || r.status === 'CANCELLED') ? kept : 0;
    money.chargesKeptPaise += chargesKept;
    const outcome = !r
      ? 'no reservation'
      : r.status === 'CONFIRMED' && refunded === 0
        ? 'confirmed'
        : refunded === p.amountPaise && grantedRefund === 0
          ? `refunded in full (${r.status})`
          : r.status === 'CONFIRMED'
            ? 'confirmed, partly cancelled'
            : `cancelled (${r.status})`;
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    const why: string[] = [];
    if (!r) why.push('no reservation');
    else {
      if (p.amountPaise !== r.farePaise) why.push(`charged ${p.amountPaise} for a fare of ${r.farePaise}`);
      if (p.amountPaise !== confirmedFare + refunded + chargesKept)
        why.push(
          `captured ${p.amountPaise} != confirmed ${confirmedFare} + refunded ${refunded} + kept ${chargesKept}`,
        );
      if (r.status === 'CONFIRMED' && refunded === p.amountPaise) why.push('a confirmed ticket and a full refund');
      if (!['CONFIRMED', 'CANCELLED'].includes(r.status) && refunded !== p.amountPaise)
        why.push(`${r.status} reservation, ${refunded} of ${p.amountPaise} refunded`);
      if (grantedRefund > 0 && grantedRefund !== refunded)
        why.push(`booking granted ${grantedRefund}, provider refunded ${refunded}`);
      if (refunds.some((x) => x.status !== 'succeeded')) why.push('a refund not succeeded');
      const db = dbByRef.get(p.id);
      if (!db) why.push('no payment row');
      else if (!['SUCCEEDED', 'REFUNDED'].includes(db.status)) why.push(`payment row ${db.status}`);
      const dbRefunded = s.refunds
        .filter((x) => db && x.paymentId === db.id && x.status === 'SUCCEEDED')
        .reduce((a, x) => a + x.amountPaise, 0);
      if (db && dbRefunded !== refunded) why.push(`payment recorded ${dbRefunded} refunded, provider ${refunded}`);
    }
    if (why.length) moneyViolations.push(`${r?.pnr ?? rid} (${p.id}): ${why.join('; ')}`);
  }
  const total = money.confirmedFaresPaise + money.refundedPaise + money.chargesKeptPaise;
  if (total !== money.capturedPaise) moneyViolations.push(`total: captured ${money.capturedPaise} != ${total}`);
  // Refunds of payments that were never captured are money out of nowhere.
  const capturedIds = new Set(s.provider.payments.filter(captured).map((p) => p.id));
  for (const r of s.provider.refunds)
    if (!capturedIds.has(r.payment)) moneyViolations.push(`refund ${r.id} of a payment not captured`);
  return { money, byOutcome, moneyViolations, capturedPerReservation };
}

export interface Ledger {
  ok: boolean;
  money: {
    capturedPayments: number;
    capturedPaise: number;
    confirmedFaresPaise: number;
    refundedPaise: number;
    chargesKeptPaise: number;
    byOutcome: Record<string, number>;
  };
  seats: { overlaps: number; maskMismatch: number; seatedPassengers: number };
  reservations: Record<string, number>;
  answeredPnrs: number;
  webhooks: { deliveries: number; duplicates: number; late: number; failed: number };
  outbox: State['outbox'];
  /**
   * Payment rows left PENDING on a final reservation, nothing captured (not money, not failing):
   * a createPayment whose process died after the row, retried after the hold was gone.
   */
  stalePendingPayments: number;
  dlq: (State['dlq'][number] & { accounted: boolean })[];
  faults: { count: number; maxReadyMs: number | null; maxHealthyMs: number | null; errors: number };
  checks: { name: string; ok: boolean; violations: string[] }[];
}

export async function checkLedger(
  prisma: PrismaClient,
  s: State,
  ctx: {
    runId: string;
    answered: string[];
    faults: FaultRecord[];
    settled: boolean;
    /** Cancellations a traveller was answered an error for (after its retries). */
    failedCancels: { reservationId: string; passengerIds: string[] | null; code: string }[];
  },
): Promise<Ledger> {
  const checks: Ledger['checks'] = [];
  const check = (name: string, violations: string[]) => checks.push({ name, ok: violations.length === 0, violations });
  const { money, byOutcome, moneyViolations, capturedPerReservation } = moneyLedger(s);
  check(
    'every captured payment is one confirmed ticket, one full refund or one cancellation (to the paisa)',
    moneyViolations,
  );

  // ── no ticket without money, no second charge ──
  const confirmedUnpaid = [...s.reservations.values()]
    .filter((r) => r.status === 'CONFIRMED' && !capturedPerReservation.has(r.id))
    .map((r) => `${r.pnr} CONFIRMED without a captured payment`);
  check('every confirmed reservation was paid', confirmedUnpaid);
  const doubles = [...capturedPerReservation.entries()]
    .filter(([, n]) => n > 1)
    .map(([id, n]) => `${s.reservations.get(id)?.pnr ?? id}: ${n} payments captured`);
  const rows = new Map<string, number>();
  for (const p of s.payments) rows.set(p.reservationId, (rows.get(p.reservationId) ?? 0) + 1);
  for (const [id, n] of rows) if (n > 1) doubles.push(`${s.reservations.get(id)?.pnr ?? id}: ${n} payment rows`);
  check('no second charge (one payment per reservation)', doubles);
  const perUser = new Map<string, number>();
  for (const r of s.reservations.values()) perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + 1);
  check(
    'no second reservation (one per traveller, whatever the retries)',
    [...perUser.entries()].filter(([, n]) => n > 1).map(([u, n]) => `user ${u}: ${n} reservations`),
  );

  // ── seats and PNRs ──
  const audit = await doubleBookingAudit(prisma, ctx.runId);
  check('no berth segment sold twice', [
    ...(audit.overlaps ? [`${audit.overlaps} overlapping berth segments`] : []),
    ...(audit.maskMismatch ? [`${audit.maskMismatch} inventory masks disagree with passengers`] : []),
  ]);
  // Answered or not (a request whose every answer was lost still made its PNR): all final.
  const answered = new Set(ctx.answered);
  check('every PNR a client was answered is final (and every other PNR of the run)', [
    ...ctx.answered.filter((id) => !s.reservations.has(id)).map((id) => `${id}: answered, not in the database`),
    ...[...s.reservations.values()]
      .filter((r) => !FINAL.has(r.status))
      .map(
        (r) =>
          `${r.pnr} ${r.status}${answered.has(r.id) ? '' : ' (never answered)'}` +
          `${r.holdExpiresAt ? ` (hold to ${r.holdExpiresAt.toISOString()})` : ''}`,
      ),
  ]);

  // Nothing but the traveller cancels here: an error answered for a cancellation that happened
  // means a retry did the work again instead of getting the first attempt's answer.
  check(
    'no cancellation answered an error after it happened',
    ctx.failedCancels
      .filter((c) => {
        const r = s.reservations.get(c.reservationId);
        const pax = s.passengers.get(c.reservationId) ?? [];
        return c.passengerIds
          ? pax.filter((p) => c.passengerIds!.includes(p.id)).every((p) => p.status === 'CANCELLED')
          : r?.status === 'CANCELLED';
      })
      .map((c) => `${s.reservations.get(c.reservationId)?.pnr ?? c.reservationId}: answered ${c.code}, yet cancelled`),
  );

  // ── messages ──
  check('outboxes drained, queues empty', [
    ...(s.outbox.booking ? [`booking outbox: ${s.outbox.booking} unpublished`] : []),
    ...(s.outbox.payment ? [`payment outbox: ${s.outbox.payment} unpublished`] : []),
    ...s.queues.filter((q) => q.messages && !q.queue.endsWith('.unrouted')).map((q) => `${q.queue}: ${q.messages}`),
  ]);
  // A dead-lettered event is accounted for when its reservation's money checked out above
  // (its effect was reached another way, or was not owed).
  const failedPnrs = new Set(moneyViolations.map((v) => v.split(' ')[0]));
  const dlq = s.dlq.map((m) => {
    const rid = /"reservationId":"([0-9a-f-]+)"/.exec(m.body)?.[1];
    const pnr = rid ? s.reservations.get(rid)?.pnr : undefined;
    return { ...m, accounted: Boolean(m.messageId) && !(pnr && failedPnrs.has(pnr)) };
  });
  check(
    'every dead-lettered message accounted for',
    dlq.filter((m) => !m.accounted).map((m) => `${m.queue} ${m.type ?? ''} ${m.messageId ?? ''}: ${String(m.reason)}`),
  );
  check(
    'every injected fault recovered',
    ctx.faults
      .filter((f) => f.error || f.healthyMs === null)
      .map((f) => `${f.kind} ${f.target ?? ''}: ${f.error ?? 'not healthy'}`),
  );
  check('the system settled', ctx.settled ? [] : ['did not settle in time']);

  const reservations: Record<string, number> = {};
  for (const r of s.reservations.values()) reservations[r.status] = (reservations[r.status] ?? 0) + 1;
  const ready = ctx.faults.map((f) => f.readyMs).filter((x): x is number => x !== null);
  const healthy = ctx.faults.map((f) => f.healthyMs).filter((x): x is number => x !== null);
  return {
    ok: checks.every((c) => c.ok),
    money: { ...money, byOutcome },
    seats: { overlaps: audit.overlaps, maskMismatch: audit.maskMismatch, seatedPassengers: audit.seatedPassengers },
    reservations,
    answeredPnrs: ctx.answered.length,
    webhooks: {
      deliveries: s.provider.deliveries.length,
      duplicates: s.provider.deliveries.filter((d) => d.copy > 1).length,
      late: s.provider.deliveries.filter((d) => d.heldMs !== undefined).length,
      failed: s.provider.deliveries.filter((d) => d.status === 'failed').length,
    },
    outbox: s.outbox,
    stalePendingPayments: s.payments.filter(
      (p) => p.status === 'PENDING' && FINAL.has(s.reservations.get(p.reservationId)?.status ?? ''),
    ).length,
    dlq,
    faults: {
      count: ctx.faults.length,
      maxReadyMs: ready.length ? Math.max(...ready) : null,
      maxHealthyMs: healthy.length ? Math.max(...healthy) : null,
      errors: ctx.faults.filter((f) => f.error).length,
    },
    checks,
  };
}
