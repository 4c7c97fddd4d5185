// The embedded search backend: pg_trgm over the search schema's own projection. SQL finds the
// candidates through the trigram GIN index on search_text and measures similarity and
// word_similarity per field (unaccented); domain/ranking.ts adds exact-code, prefix and typo evidence.
import type { Prisma, PrismaClient } from '@tatkal/db';
import { hitHighlights, rankDocument, type FieldEvidence, type RankedDocument } from '../domain/ranking.ts';
import type { NormalizedQuery } from '../domain/text.ts';
import type { SearchBackend, Slice, StationResult, TrainResult } from './types.ts';

/**
 * Candidates need a word similarity of at least this (pg_trgm's default is 0.6): low enough that
 * two typos in a long word ("kolkatta") or one in a short one ("pume") still reach the ranking.
 */
const CANDIDATE_THRESHOLD = 0.3;
/** Ranked in memory after the index narrowed them down; far more than anyone pages through. */
const MAX_CANDIDATES = 300;

const STATION_WEIGHTS: Record<string, number> = { name: 1, code: 1, alias: 0.95, city: 0.85 };
const TRAIN_WEIGHTS: Record<string, number> = { number: 1, name: 1, type: 0.6 };

interface FieldRow {
  key: string;
  field: string;
  value: string;
  sim: number;
  wsim: number;
}

const likeContains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function evidenceOf(row: FieldRow, weights: Record<string, number>, codeField: string): FieldEvidence {
  return {
    field: row.field,
    value: row.value,
    kind: row.field === codeField ? 'code' : 'text',
    weight: weights[row.field] ?? 0.5,
    similarity: row.sim,
    wordSimilarity: row.wsim,
  };
}

function rankAll<T>(
  docs: Map<string, T>,
  rows: FieldRow[],
  q: NormalizedQuery,
  weights: Record<string, number>,
  codeField: string,
  nameOf: (doc: T) => string,
) {
  const evidence = new Map<string, FieldEvidence[]>();
  for (const row of rows) {
    const list = evidence.get(row.key) ?? [];
    list.push(evidenceOf(row, weights, codeField));
    evidence.set(row.key, list);
  }
  const ranked: RankedDocument<T>[] = [];
  for (const [key, doc] of docs) {
    const r = rankDocument(doc, evidence.get(key) ?? [], q);
    if (r) ranked.push(r);
  }
  // Ties: the shorter name first (the station itself before "X Cantonment"), then alphabetical.
  ranked.sort(
    (a, b) =>
      b.score - a.score || nameOf(a.doc).length - nameOf(b.doc).length || nameOf(a.doc).localeCompare(nameOf(b.doc)),
  );
  return ranked;
}

export function createPostgresBackend(prisma: PrismaClient): SearchBackend {
  // The threshold is per transaction (set_config ..., true) so the `<%` operator, which the GIN
  // index serves, uses it.
  const withThreshold = <T>(query: Prisma.PrismaPromise<T>) =>
    prisma
      .$transaction([
        prisma.$queryRaw`SELECT set_config('pg_trgm.word_similarity_threshold', ${String(CANDIDATE_THRESHOLD)}, true)`,
        query,
      ])
      .then(([, rows]) => rows);

  return {
    name: 'postgres',

    async searchStations(q: NormalizedQuery, slice: Slice): Promise<StationResult[]> {
      const rows = await withThreshold(prisma.$queryRaw<
        (FieldRow & { name: string; city: string; state: string; aliases: string[] })[]
      >`
        WITH candidates AS (
          SELECT code, name, city, state, aliases
          FROM search.station_docs
          WHERE code = ${q.compact} OR code = ANY(${q.tokens.map((t) => t.toUpperCase())}::text[])
             OR ${q.text} <% search_text OR search_text LIKE ${likeContains(q.text)}
          ORDER BY word_similarity(${q.text}, search_text) DESC, code
          LIMIT ${MAX_CANDIDATES}
        )
        SELECT c.code AS key, c.name, c.city, c.state, c.aliases, f.field, f.value,
          similarity(${q.text}, f.folded)::float8 AS sim, word_similarity(${q.text}, f.folded)::float8 AS wsim
        FROM candidates c
        CROSS JOIN LATERAL (
          SELECT v.field, v.value, lower(public.unaccent(v.value)) AS folded
          FROM (SELECT 'name' AS field, c.name AS value
                UNION ALL SELECT 'city', c.city
                UNION ALL SELECT 'code', c.code
                UNION ALL SELECT 'alias', a FROM unnest(c.aliases) a) v
        ) f`);
      const docs = new Map(
        rows.map((r) => [r.key, { code: r.key, name: r.name, city: r.city, state: r.state, aliases: r.aliases }]),
      );
      const ranked = rankAll(docs, rows, q, STATION_WEIGHTS, 'code', (d) => d.name);
      return ranked.slice(slice.offset, slice.offset + slice.size).map((r) => ({
        ...r.doc,
        score: r.score,
        highlights: hitHighlights(r.best, r.doc.name, q),
      }));
    },

    async searchTrains(q: NormalizedQuery, slice: Slice): Promise<TrainResult[]> {
      const numberPrefix = /^\d+$/.test(q.compact) ? `${q.compact}%` : null;
      const rows = await withThreshold(prisma.$queryRaw<(FieldRow & { name: string; type: string })[]>`
        WITH candidates AS (
          SELECT number, name, type
          FROM search.train_docs
          WHERE number = ${q.compact} OR number = ANY(${q.tokens}::text[]) OR number LIKE ${numberPrefix}
             OR ${q.text} <% search_text OR search_text LIKE ${likeContains(q.text)}
          ORDER BY word_similarity(${q.text}, search_text) DESC, number
          LIMIT ${MAX_CANDIDATES}
        )
        SELECT c.number AS key, c.name, c.type, f.field, f.value,
          similarity(${q.text}, f.folded)::float8 AS sim, word_similarity(${q.text}, f.folded)::float8 AS wsim
        FROM candidates c
        CROSS JOIN LATERAL (
          SELECT v.field, v.value, lower(public.unaccent(v.value)) AS folded
          FROM (SELECT 'number' AS field, c.number AS value
                UNION ALL SELECT 'name', c.name
                UNION ALL SELECT 'type', replace(c.type, '_', ' ')) v
        ) f`);
      const docs = new Map(rows.map((r) => [r.key, { number: r.key, name: r.name, type: r.type }]));
      const ranked = rankAll(docs, rows, q, TRAIN_WEIGHTS, 'number', (d) => d.name);
      return ranked.slice(slice.offset, slice.offset + slice.size).map((r) => ({
        ...r.doc,
        score: r.score,
        highlights: hitHighlights(r.best, r.doc.name, q),
      }));
    },
  };
}

/** Aliases of each station code, in the codes' order; null for a code search does not know. */
export async function stationAliases(prisma: PrismaClient, codes: string[]): Promise<(string[] | null)[]> {
  const docs = await prisma.stationDoc.findMany({
    where: { code: { in: codes } },
    select: { code: true, aliases: true },
  });
  const byCode = new Map(docs.map((d) => [d.code, d.aliases]));
  return codes.map((c) => byCode.get(c) ?? null);
}
