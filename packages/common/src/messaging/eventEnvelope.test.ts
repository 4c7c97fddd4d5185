import { describe, expect, it } from 'vitest';
import { parseEnvelope } from './envelope.ts';
import { EVENT_VERSION, eventEnvelope } from './eventEnvelope.ts';

describe('eventEnvelope', () => {
  it('builds type, version, occurredAt, correlationId and data in the documented shape', () => {
    const at = new Date('2026-11-25T10:00:00.000Z');
    expect(eventEnvelope('payment.succeeded', { reservationId: 'r1' }, { correlationId: 'r1', at })).toEqual({
      type: 'payment.succeeded',
      version: EVENT_VERSION,
      occurredAt: '2026-11-25T10:00:00.000Z',
      correlationId: 'r1',
      data: { reservationId: 'r1' },
    });
    expect(EVENT_VERSION).toBe(1);
  });

  it('defaults occurredAt to now and takes another version when asked', () => {
    const before = Date.now();
    const e = eventEnvelope('reservation.held', {}, { correlationId: null, version: 2 });
    expect(Date.parse(e.occurredAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(e.occurredAt)).toBeLessThanOrEqual(Date.now());
    expect(e).toMatchObject({ version: 2, correlationId: null, data: {} });
  });

  it('is what a consumer parses once the relay adds the outbox row id', () => {
    const e = eventEnvelope('reservation.cancelled', { pnr: '4123456789' }, { correlationId: '4123456789' });
    expect(parseEnvelope(Buffer.from(JSON.stringify({ id: 'row-1', ...e })))).toEqual({ id: 'row-1', ...e });
  });
});
