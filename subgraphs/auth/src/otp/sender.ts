// How a one-time code reaches a phone. Auth depends only on `OtpSender`: in development and tests
// the OTP simulator (./simulator.ts) receives the codes over HTTP; production needs a real SMS
// provider behind the same interface (none is wired in yet: config.ts refuses the simulator there).

export interface OtpMessage {
  /** E.164, e.g. +919876543210. */
  phone: string;
  /** The code in clear: it exists only in this call and in the text message. */
  code: string;
  expiresAt: Date;
}

export interface OtpSender {
  /** Names the provider in logs and errors (never the code). */
  readonly name: string;
  /** Resolves once the provider accepted the message; rejects with OtpDeliveryError when it did not. */
  send(message: OtpMessage): Promise<void>;
}

/** The provider did not take the message (unreachable, refused): nothing was sent, the caller may retry. */
export class OtpDeliveryError extends Error {
  override name = 'OtpDeliveryError';
}

/** The text a user receives. */
export const otpText = (code: string, expiresAt: Date, now = Date.now()) =>
  `${code} is your Tatkal identity verification code. It expires in ${Math.max(
    1,
    Math.round((expiresAt.getTime() - now) / 60_000),
  )} minutes. Do not share it with anyone.`;

/** Delivers through the development OTP simulator's `POST /messages`. */
export function simulatorOtpSender(baseUrl: string, opts: { timeoutMs?: number } = {}): OtpSender {
  const url = new URL('/messages', baseUrl);
  return {
    name: 'simulator',
    async send({ phone, code, expiresAt }) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: phone, code, text: otpText(code, expiresAt), expiresAt: expiresAt.toISOString() }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 3_000),
        });
      } catch (err) {
        throw new OtpDeliveryError(`OTP simulator unreachable at ${baseUrl}: ${(err as Error).name}`);
      }
      await res.arrayBuffer();
      if (!res.ok) throw new OtpDeliveryError(`OTP simulator answered ${res.status}`);
    },
  };
}

/** No provider configured (production until a real one is wired in): every request fails, loudly. */
export const disabledOtpSender: OtpSender = {
  name: 'disabled',
  send: async () => {
    throw new Error('no OTP provider is configured (OTP_PROVIDER=disabled): identity codes cannot be sent');
  },
};
