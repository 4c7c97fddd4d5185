import { describe, expect, it } from 'vitest';
import { parseEnvelope, PoisonMessageError } from './envelope.ts';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const valid = {
  id: 'a1',
  type: 'payment.succeeded',
  version: 1,
  occurredAt: '2026-11-25T10:00:00.000Z',
  correlationId: '4123456789',
  data: { reservationId: 'r' },
};

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
