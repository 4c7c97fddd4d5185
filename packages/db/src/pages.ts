import { Prisma, type PrismaClient } from './generated/prisma/client.ts';

/** Tables whose rows belong to a user and are listed newest first (index on user_id, created_at). */
export type UserOwnedTable = 'booking.reservations' | 'payment.payments';

export interface UserPageKey {
  userId: string;
  /** Rows wanted; one more is read to tell whether a next page exists. */
  take: number;
  /** Keyset cursor: the last (created_at, id) of the previous page. */
  after: { createdAtMs: number; id: string } | null;
}

/**
 * The ids of one newest-first page per key, keyset-paged by (created_at, id), for many users in
 * one LATERAL query (User.reservations / User.payments of many entity references). Rows come in
 * key order (`ord`, 0-based), newest first, at most `take + 1` per key.
 */
export async function pageIdsPerUser(
  db: Pick<PrismaClient, '$queryRaw'>,
  table: UserOwnedTable,
  keys: UserPageKey[],
): Promise<{ ord: number; id: string; created_ms: bigint }[]> {
  if (keys.length === 0) return [];
  return db.$queryRaw<{ ord: number; id: string; created_ms: bigint }[]>`
    SELECT k.ord::int - 1 AS ord, t.id::text AS id, (extract(epoch FROM t.created_at) * 1000)::bigint AS created_ms
    FROM unnest(${keys.map((k) => k.userId)}::uuid[],
                ${keys.map((k) => k.take)}::int[],
                ${keys.map((k) => k.after?.createdAtMs ?? null)}::bigint[],
                ${keys.map((k) => k.after?.id ?? null)}::uuid[])
         WITH ORDINALITY AS k(user_id, take, after_ms, after_id, ord)
    CROSS JOIN LATERAL (
      SELECT id, created_at FROM ${Prisma.raw(table)} t
      WHERE t.user_id = k.user_id
        AND (k.after_ms IS NULL
             OR (t.created_at, t.id) < (timestamptz 'epoch' + k.after_ms * interval '1 millisecond', k.after_id))

      ORDER BY t.created_at DESC, t.id DESC
      LIMIT k.take + 1
    ) t
    ORDER BY k.ord, t.created_at DESC, t.id DESC`;
}
