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
  const name = serviceTable(table, 'inbox');
  const rows = await tx.$queryRawUnsafe<unknown[]>(
    `INSERT INTO ${name} (message_id, type) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING RETURNING message_id`,
    envelope.id,
    envelope.type,
  );
  return rows.length === 1;
}
