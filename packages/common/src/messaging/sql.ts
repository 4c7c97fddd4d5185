// What the outbox relay and the inbox need of PostgreSQL, and how a service names its tables.

/** The raw-SQL part of a PrismaClient (or its transaction client) the relay and inbox need. */
export interface SqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}
export interface TransactionalSqlClient extends SqlClient {
  $transaction<R>(fn: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/**
 * The table a service passes: its schema alone ('booking' → `booking.outbox`) or a
 * schema-qualified name. Checked here because the name is spliced into SQL.
 */
export function serviceTable(name: string, table: 'outbox' | 'inbox'): string {
  const parts = name.includes('.') ? name.split('.') : [name, table];
  if (parts.length !== 2 || !parts.every((p) => identifier.test(p)))
    throw new Error(`bad ${table} table name (schema or schema.table): ${JSON.stringify(name)}`);
  return parts.join('.');
}
