/**
 * A row the database's foreign keys guarantee, for a non-null field: its absence is a fault
 * (INTERNAL_SERVER_ERROR, logged), exactly as the null graphql-js would refuse for that field was.
 */
export async function required<T>(value: Promise<T | null>, what: string): Promise<T> {
  const found = await value;
  if (found === null) throw new Error(`${what} not found`);
  return found;
}
