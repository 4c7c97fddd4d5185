// search_text, the one column the trigram index covers, is computed by PostgreSQL (lower-case,
// unaccented, single spaces) from the document's own columns: by the reindex for every row and
// by the event consumer for the row it changed.
import { Prisma } from '@tatkal/db';

interface Sql {
  $executeRaw(query: Prisma.Sql): Prisma.PrismaPromise<number>;
}

const fold = (expr: Prisma.Sql) => Prisma.sql`trim(regexp_replace(lower(public.unaccent(${expr})), '\\s+', ' ', 'g'))`;
const STATION_TEXT = fold(Prisma.sql`concat_ws(' ', name, city, code, array_to_string(aliases, ' '))`);
const TRAIN_TEXT = fold(Prisma.sql`concat_ws(' ', number, name, replace(type, '_', ' '))`);

/** Recomputes search_text of one station (or all); returns the rows changed. */
export function refreshStationText(sql: Sql, code: string | null = null): Prisma.PrismaPromise<number> {
  return sql.$executeRaw(Prisma.sql`UPDATE search.station_docs SET search_text = ${STATION_TEXT}
    WHERE (${code}::text IS NULL OR code = ${code}) AND search_text IS DISTINCT FROM ${STATION_TEXT}`);
}

export function refreshTrainText(sql: Sql, number: string | null = null): Prisma.PrismaPromise<number> {
  return sql.$executeRaw(Prisma.sql`UPDATE search.train_docs SET search_text = ${TRAIN_TEXT}
    WHERE (${number}::text IS NULL OR number = ${number}) AND search_text IS DISTINCT FROM ${TRAIN_TEXT}`);
}
