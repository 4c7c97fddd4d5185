import { describe, expect, it } from 'vitest';
import { dlqName, eventTopology, retryQueueName } from './topology.ts';

describe('eventTopology', () => {
  it('names exchanges and queues, prefixed for tests and environments', () => {
    const t = eventTopology('t1_');
    expect(t.exchanges).toEqual({ payments: 't1_payments', booking: 't1_booking' });
    expect(t.exchangeName('payments')).toBe('t1_payments');
    expect(t.queues.bookingPaymentEvents).toEqual({
      queue: 't1_booking.payment-events',
      bindings: [{ exchange: 't1_payments', pattern: 'payment.*' }],
    });
    expect(t.queues.paymentBookingEvents.bindings.map((b) => b.pattern)).toEqual([
      'reservation.cancelled',
      'reservation.refund_required',
    ]);
    expect([retryQueueName('q'), dlqName('q')]).toEqual(['q.retry', 'q.dlq']);
    expect(eventTopology().queues.bookingPaymentEvents.queue).toBe('booking.payment-events');
  });
});
