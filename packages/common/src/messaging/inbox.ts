// The consumer's side of exactly-once processing: the message id recorded in the service's inbox
// table, in the transaction of the state change.
import type { Envelope } from './envelope.ts';
import { serviceTable, type SqlClient } from './sql.ts';

/**
 * Records a consumed message id inside the caller's transaction, in `table` (the service's schema
 * for `<schema>.inbox`, or a schema-qualified table). True the first time; false for a duplicate
 * (the caller then does nothing). A concurrent duplicate waits on the primary key until the first
 * transaction ends, so one of them commits the state change.
 */
export async function recordInbox(
  tx: SqlClient,
  table: string,
  envelope: Pick<Envelope, 'id' | 'type'>,
): Promise<boolean> {
  return (await recordInboxes(tx, table, [envelope])).has(envelope.id);
}

/**
 * `recordInbox` for many messages in one statement (a batch that commits their state changes
 * together): the ids recorded now; the others are duplicates. Ids must be distinct.
 */
export async function recordInboxes(
  tx: SqlClient,
  table: string,
  envelopes: Pick<Envelope, 'id' | 'type'>[],
): Promise<Set<string>> {
  if (envelopes.length === 0) return new Set();
  const name = serviceTable(table, 'inbox');
  const rows = await tx.$queryRawUnsafe<{ message_id: string }[]>(
    `INSERT INTO ${name} (message_id, type) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (message_id) DO NOTHING RETURNING message_id`,
    envelopes.map((e) => e.id),
    envelopes.map((e) => e.type),
  );
  return new Set(rows.map((r) => r.message_id));
}
