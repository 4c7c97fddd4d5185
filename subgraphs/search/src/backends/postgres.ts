// The embedded search backend: pg_trgm similarity over the search schema's own projection.
import type { PrismaClient } from '@tatkal/db';

export interface StationHit {
  code: string;
  aliases: string[];
  score: number;
}

export async function searchStationsPg(prisma: PrismaClient, query: string, limit: number): Promise<StationHit[]> {
  const q = query.trim().toLowerCase();
  const code = q.toUpperCase();
  // Exact code first, then prefix matches, then trigram word similarity.
  const rows = await prisma.$queryRaw<{ code: string; aliases: string[]; score: number }[]>`
    SELECT code, aliases,
      (CASE WHEN code = ${code} THEN 3 ELSE 0 END
       + CASE WHEN search_text LIKE ${q.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'} THEN 1 ELSE 0 END
       + word_similarity(${q}, search_text))::float8 AS score
    FROM search.station_docs
    WHERE code = ${code} OR ${q} <% search_text
    ORDER BY score DESC, code
    LIMIT ${limit}`;
  return rows;
}

export async function stationAliases(prisma: PrismaClient, code: string): Promise<string[] | null> {
  const doc = await prisma.stationDoc.findUnique({ where: { code }, select: { aliases: true } });
  return doc?.aliases ?? null;
}
