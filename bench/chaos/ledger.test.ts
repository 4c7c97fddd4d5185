// The chaos run's money identity on hand-made states: what balances (a confirmed ticket, a
// cancellation refunded by the rules, a full refund of a late or pre-confirmation payment) and
// what the ledger must catch (a ticket and a refund, money kept without a ticket, two captures).
import { describe, expect, it } from 'vitest';
import { moneyLedger, unsettled } from './ledger.ts';
import type { State } from './state.ts';

const FARE = 100_000;

/** One reservation of two passengers (50,000 paise each) paid with one captured payment. */
function state(opts: {
  status: string;
  confirmed: boolean;
  passengers?: { status: string; refundPaise: number | null }[];
  refunds?: number[];
  captures?: number;
}): State {
  const passengers = opts.passengers ?? [
    { status: 'CONFIRMED', refundPaise: null },
    { status: 'CONFIRMED', refundPaise: null },
  ];
  const captures = opts.captures ?? 1;
  const refunds = opts.refunds ?? [];
  const refunded = refunds.reduce((a, b) => a + b, 0);
  return {
    reservations: new Map([
      [
        'r1',
        {
          id: 'r1',
          pnr: '1000000001',
          userId: 'u1',
          status: opts.status,
          farePaise: FARE,
          holdExpiresAt: null,
          confirmedAt: opts.confirmed ? new Date() : null,
        },
      ],
    ]),
    passengers: new Map([['r1', passengers.map((p, i) => ({ id: `p${i}`, farePaise: FARE / 2, ...p }))]]),
    payments: Array.from({ length: captures }, (_, i) => ({
      id: `pay${i}`,
      reservationId: 'r1',
      status: refunded ? 'REFUNDED' : 'SUCCEEDED',
      amountPaise: FARE,
      providerRef: `sim${i}`,
    })),
    refunds: refunds.map((amountPaise, i) => ({
      paymentId: 'pay0',
      amountPaise,
      status: 'SUCCEEDED',
      reason: `r${i}`,
      providerRefundId: `re${i}`,
    })),
    provider: {
      payments: Array.from({ length: captures }, (_, i) => ({
        id: `sim${i}`,
        amountPaise: FARE,
        status: refunded === FARE && i === 0 ? 'refunded' : refunded && i === 0 ? 'partially_refunded' : 'succeeded',
        refundedPaise: i === 0 ? refunded : 0,
        metadata: { reservationId: 'r1' },
      })),
      refunds: refunds.map((amountPaise, i) => ({
        id: `re${i}`,
        payment: 'sim0',
        amountPaise,
        reason: 'x',
        status: 'succeeded',
      })),
      deliveries: [],
    },
    outbox: { booking: 0, payment: 0 },
    queues: [],
    dlq: [],
  };
}

describe('the chaos ledger’s money identity', () => {
  it('balances a confirmed ticket, a partial and a whole cancellation, and full refunds', () => {
    const confirmed = moneyLedger(state({ status: 'CONFIRMED', confirmed: true }));
    expect(confirmed.moneyViolations).toEqual([]);
    expect(confirmed.money).toMatchObject({ capturedPaise: FARE, confirmedFaresPaise: FARE, refundedPaise: 0 });

    // One passenger cancelled after confirmation: 37,500 refunded, 12,500 kept by the rules.
    const partial = moneyLedger(
      state({
        status: 'CONFIRMED',
        confirmed: true,
        passengers: [
          { status: 'CONFIRMED', refundPaise: null },
          { status: 'CANCELLED', refundPaise: 37_500 },
        ],
        refunds: [37_500],
      }),
    );
    expect(partial.moneyViolations).toEqual([]);
    expect(partial.money).toMatchObject({
      confirmedFaresPaise: 50_000,
      refundedPaise: 37_500,
      chargesKeptPaise: 12_500,
    });

    const whole = moneyLedger(
      state({
        status: 'CANCELLED',
        confirmed: true,
        passengers: [
          { status: 'CANCELLED', refundPaise: 40_000 },
          { status: 'CANCELLED', refundPaise: 40_000 },
        ],
        refunds: [80_000],
      }),
    );
    expect(whole.moneyViolations).toEqual([]);
    expect(whole.money.chargesKeptPaise).toBe(20_000);

    // Paid after the hold ran out, or cancelled (HELD_UNPAID: refund 0) before the payment was seen.
    expect(moneyLedger(state({ status: 'EXPIRED', confirmed: false, refunds: [FARE] })).moneyViolations).toEqual([]);
    const early = state({
      status: 'CANCELLED',
      confirmed: false,
      passengers: [
        { status: 'CANCELLED', refundPaise: 0 },
        { status: 'CANCELLED', refundPaise: 0 },
      ],
      refunds: [FARE],
    });
    expect(moneyLedger(early).moneyViolations).toEqual([]);
    expect(moneyLedger(early).byOutcome).toEqual({ 'refunded in full (CANCELLED)': 1 });
  });

  it('catches a ticket with a full refund, money kept without a ticket, a refund short of the rules', () => {
    expect(
      moneyLedger(state({ status: 'CONFIRMED', confirmed: true, refunds: [FARE] })).moneyViolations.join(),
    ).toContain('a confirmed ticket and a full refund');
    expect(moneyLedger(state({ status: 'EXPIRED', confirmed: false })).moneyViolations[0]).toContain(
      'EXPIRED reservation, 0 of 100000 refunded',
    );
    const short = state({
      status: 'CANCELLED',
      confirmed: true,
      passengers: [
        { status: 'CANCELLED', refundPaise: 40_000 },
        { status: 'CANCELLED', refundPaise: 40_000 },
      ],
      refunds: [40_000],
    });
    expect(moneyLedger(short).moneyViolations.join()).toContain('booking granted 80000, provider refunded 40000');
    // And the run does not count as settled while it is so.
    expect(unsettled(short, ['r1'])).toEqual(['money not yet balanced (2 lines)']);
  });

  it('counts a second capture for one reservation', () => {
    const twice = moneyLedger(state({ status: 'CONFIRMED', confirmed: true, captures: 2 }));
    expect(twice.capturedPerReservation.get('r1')).toBe(2);
    expect(twice.moneyViolations.join()).toContain('captured 100000 != confirmed 0 + refunded 0 + kept 0');
  });
});
