import { describe, expect, it } from 'vitest';
import { computeSignature, signatureHeader, verifySignature } from '../src/webhookSignature.ts';

const SECRET = 'whsec_unit_0123456789abcdef';
const body = Buffer.from('{"id":"evt_1"}');
const now = 1_800_000_000;

describe('webhook signatures', () => {
  it('accepts a matching v1 within the window, either side', () => {
    for (const t of [now, now - 300, now + 300]) {
      expect(
        verifySignature({
          header: signatureHeader([SECRET], body, t),
          rawBody: body,
          secrets: [SECRET],
          nowSeconds: now,
        }),
      ).toEqual({ ok: true });
    }
  });

  it('names why it refuses', () => {
    const check = (header: string | undefined, secrets = [SECRET]) =>
      verifySignature({ header, rawBody: body, secrets, nowSeconds: now });
    expect(check(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(check('garbage')).toEqual({ ok: false, reason: 'malformed' });
    expect(check(`t=${now}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(check(`t=${now},t=${now},v1=${computeSignature(SECRET, now, body)}`)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(check(`t=abc,v1=${computeSignature(SECRET, now, body)}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(check(`t=${now},v1=short`)).toEqual({ ok: false, reason: 'malformed' });
    expect(check(signatureHeader([SECRET], body, now - 301))).toEqual({ ok: false, reason: 'stale' });
    expect(check(signatureHeader(['whsec_other_0123456789abcdef'], body, now))).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    // The timestamp is signed: moving it invalidates the signature.
    expect(check(`t=${now},v1=${computeSignature(SECRET, now - 1, body)}`)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('accepts any current secret and any of several v1 values (rotation)', () => {
    const header = signatureHeader(['whsec_old_0123456789abcdef', SECRET], body, now);
    expect(verifySignature({ header, rawBody: body, secrets: [SECRET], nowSeconds: now }).ok).toBe(true);
    expect(
      verifySignature({
        header: signatureHeader([SECRET], body, now),
        rawBody: body,
        secrets: ['whsec_new_0123456789abcdef', SECRET],
        nowSeconds: now,
      }).ok,
    ).toBe(true);
    expect(verifySignature({ header: `v0=abc,${header}`, rawBody: body, secrets: [SECRET], nowSeconds: now }).ok).toBe(
      true,
    );
  });
});
