import { describe, expect, it } from 'vitest';
import { dlqName, eventTopology, parseEnvelope, PoisonMessageError, retryQueueName } from './messaging.ts';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const valid = { id: 'a1', type: 'payment.succeeded', version: 1, occurredAt: '2026-11-25T10:00:00.000Z', correlationId: '4123456789', data: { reservationId: 'r' } };

describe('parseEnvelope', () => {
  it('returns a well-formed envelope; a missing correlationId becomes null', () => {
    expect(parseEnvelope(body(valid))).toEqual(valid);
    const { correlationId: _c, ...without } = valid;
    expect(parseEnvelope(body(without))).toEqual({ ...valid, correlationId: null });
  });

  it.each([
    ['not JSON', '{"id": nope', /^body is not JSON/],
    ['a JSON array', [], /^not an event envelope: \(root\)/],
    ['no type', { ...valid, type: undefined }, /^not an event envelope: type/],
    ['a fractional version', { ...valid, version: 1.5 }, /^not an event envelope: version/],
    ['data that is not an object', { ...valid, data: 'x' }, /^not an event envelope: data/],
  ])('treats %s as poison', (_what, input, message) => {
    expect(() => parseEnvelope(body(input))).toThrow(PoisonMessageError);
    expect(() => parseEnvelope(body(input))).toThrow(message);
  });
});

describe('eventTopology', () => {
  it('names exchanges and queues, prefixed for tests and environments', () => {
    const t = eventTopology('t1_');
    expect(t.exchanges).toEqual({ payments: 't1_payments', booking: 't1_booking' });
    expect(t.exchangeName('payments')).toBe('t1_payments');
    expect(t.queues.bookingPaymentEvents).toEqual({ queue: 't1_booking.payment-events', bindings: [{ exchange: 't1_payments', pattern: 'payment.*' }] });
    expect(t.queues.paymentBookingEvents.bindings.map((b) => b.pattern)).toEqual(['reservation.cancelled', 'reservation.refund_required']);
    expect([retryQueueName('q'), dlqName('q')]).toEqual(['q.retry', 'q.dlq']);
    expect(eventTopology().queues.bookingPaymentEvents.queue).toBe('booking.payment-events');
  });
});
