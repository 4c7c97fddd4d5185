// Stripe-style webhook signatures, shared by the sidecar (verify) and the provider simulator (sign):
//   Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]
// Several v1 values let a provider sign with the old and the new secret while a secret rotates.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'payment-signature';
/** How far a signature's timestamp may be from now, either way (replay window). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function computeSignature(secret: string, timestamp: number, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** The header value for a body, signed with every given secret (one v1 each). */
export function signatureHeader(
  secrets: readonly string[],
  rawBody: Buffer | string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${computeSignature(s, timestamp, rawBody)}`)].join(',');
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

function parseHeader(header: string): { timestamp: number; signatures: string[] } | null {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) return null;
    const key = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== null) return null;
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (/^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
    }
    // Other schemes (v0, future versions) are ignored, as Stripe does.
  }
  return timestamp === null || signatures.length === 0 || signatures.length > 8 ? null : { timestamp, signatures };
}

/**
 * Accepts when any v1 matches any current secret (constant-time compare) and the timestamp is
 * within the tolerance. The timestamp is part of the signed text, so it cannot be refreshed by a
 * replayer without the secret.
 */
export function verifySignature(opts: {
  header: string | undefined;
  rawBody: Buffer;
  secrets: readonly string[];
  nowSeconds?: number;
  toleranceSeconds?: number;
}): SignatureCheck {
  if (!opts.header) return { ok: false, reason: 'missing' };
  const parsed = parseHeader(opts.header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - parsed.timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS))
    return { ok: false, reason: 'stale' };
  let match = false;
  for (const secret of opts.secrets) {
    const expected = Buffer.from(computeSignature(secret, parsed.timestamp, opts.rawBody), 'hex');
    for (const given of parsed.signatures) {
      // Both are 32 bytes (the header parser only keeps 64 hex digits), as timingSafeEqual needs.
      if (timingSafeEqual(expected, Buffer.from(given, 'hex'))) match = true;
    }
  }
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}
