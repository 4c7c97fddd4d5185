// Asks the booking subgraph about a reservation on the caller's behalf: the caller's own token
// goes along, so booking's ownership rule decides (another user's reservation comes back null).
// With the shared secret the call is signed as the gateway signs its own (booking in production
// answers nothing else): the caller's identity and address as payment received them.
import { IDENTITY_ASSERTION_HEADER, type Identity, type IdentityAssertions } from '@tatkal/common';
import { z } from 'zod';
import { jsonClient } from './jsonClient.ts';

const QUERY = `query PaymentReservationCheck($r: [_Any!]!) {
  _entities(representations: $r) { ... on Reservation { id pnr status farePaise holdExpiresAt } }
}`;

const answerSchema = z.object({
  data: z
    .object({
      _entities: z.array(
        z
          .object({
            id: z.string(),
            pnr: z.string(),
            status: z.string(),
            farePaise: z.number().int(),
            holdExpiresAt: z.string().nullable(),
          })
          .nullable(),
      ),
    })
    .nullable()
    .optional(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

export interface HeldReservation {
  id: string;
  pnr: string;
  status: string;
  farePaise: number;
  holdExpiresAt: Date | null;
}

export interface BookingClient {
  /** The reservation as its owner (or an admin) sees it, or null when it is not theirs or does not exist. */
  reservation(id: string, caller: BookingCaller): Promise<HeldReservation | null>;
  /** Closes its connections (shutdown). */
  close?(): Promise<void>;
}

export interface BookingCaller {
  authorization: string;
  requestId: string;
  identity: Identity;
  clientIp?: string;
}

export class BookingUnavailableError extends Error {
  override name = 'BookingUnavailableError';
}

export function createBookingClient(
  url: string,
  opts: { timeoutMs?: number; assertions?: IdentityAssertions } = {},
): BookingClient {
  const client = jsonClient(url, { timeoutMs: opts.timeoutMs ?? 3_000 });
  return {
    async reservation(id, caller) {
      const headers: Record<string, string> = {
        authorization: caller.authorization,
        'x-request-id': caller.requestId,
      };
      if (opts.assertions)
        headers[IDENTITY_ASSERTION_HEADER] = opts.assertions.sign(
          { identity: caller.identity, clientIp: caller.clientIp ?? 'unknown' },
          caller.authorization,
        );
      let res: Awaited<ReturnType<typeof client.post>>;
      try {
        res = await client.post(url, { query: QUERY, variables: { r: [{ __typename: 'Reservation', id }] } }, headers);
      } catch (err) {
        throw new BookingUnavailableError(`booking subgraph unreachable at ${url}: ${(err as Error).message}`);
      }
      const parsed = answerSchema.safeParse(res.body);
      const ok = res.status >= 200 && res.status < 300;
      if (!ok || !parsed.success || parsed.data.errors?.length || !parsed.data.data) {
        const detail = parsed.success ? parsed.data.errors?.map((e) => e.message).join('; ') : 'unexpected answer';
        throw new BookingUnavailableError(`booking subgraph answered ${res.status}: ${detail ?? 'no data'}`);
      }
      const r = parsed.data.data._entities[0] ?? null;
      return r && { ...r, holdExpiresAt: r.holdExpiresAt ? new Date(r.holdExpiresAt) : null };
    },
    close: () => client.close(),
  };
}
