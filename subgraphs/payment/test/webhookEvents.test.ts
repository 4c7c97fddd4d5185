// The webhook body parser: one discriminated union over the provider's event types, with the same
// answers as before it (a malformed body is 400 whatever its type; an unknown type is ignored).
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, parseWebhookBody } from '../src/domain/webhookEvents.ts';

const base = { id: 'evt_1', created: 1_764_064_800, data: { providerRef: 'sim_pay_1', amountPaise: 245_000 } };

describe('parseWebhookBody', () => {
  it('knows exactly the types the provider simulator sends', () => {
    expect(EVENT_TYPES).toEqual(['payment.succeeded', 'payment.failed', 'refund.succeeded']);
  });

  it('narrows each handled type to its own shape', () => {
    const paid = parseWebhookBody({ ...base, type: 'payment.succeeded', data: { ...base.data, currency: 'INR' } });
    expect(paid).toEqual({
      kind: 'event',
      event: { ...base, type: 'payment.succeeded', data: { ...base.data, currency: 'INR' } },
    });
    expect(parseWebhookBody({ ...base, type: 'payment.failed' })).toMatchObject({ kind: 'event' });
    const refund = parseWebhookBody({ ...base, type: 'refund.succeeded', data: { ...base.data, refundId: 're_1' } });
    expect(refund.kind === 'event' && refund.event.type === 'refund.succeeded' && refund.event.data.refundId).toBe(
      're_1',
    );
  });

  it('acknowledges a well-formed event of another type', () => {
    expect(parseWebhookBody({ ...base, type: 'payment.disputed' })).toEqual({
      kind: 'unhandled',
      id: 'evt_1',
      type: 'payment.disputed',
    });
  });

  it.each([
    ['a JSON array', [], 'invalid event: (root): Invalid input: expected object, received array'],
    ['no id', { type: 'payment.succeeded', data: base.data }, 'invalid event: id: Invalid input'],
    ['no providerRef', { ...base, type: 'payment.failed', data: {} }, 'invalid event: data.providerRef: Invalid'],
    ['an unknown type without providerRef', { ...base, type: 'payment.disputed', data: {} }, 'data.providerRef'],
    ['no type', base, 'invalid event: type: Invalid input'],
    ['a fractional amount', { ...base, type: 'payment.succeeded', data: { ...base.data, amountPaise: 1.5 } }, 'amount'],
    [
      'a refund without refundId',
      { ...base, type: 'refund.succeeded' },
      'invalid event: data.refundId: required for refund events',
    ],
    ['an empty refundId', { ...base, type: 'refund.succeeded', data: { ...base.data, refundId: '' } }, 'refundId'],
  ])('refuses %s', (_what, body, error) => {
    const parsed = parseWebhookBody(body);
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.error).toContain(error);
  });
});
