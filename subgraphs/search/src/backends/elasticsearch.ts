// The Elasticsearch backend (when ELASTICSEARCH_URL is set) and its indexer. Queries read the
// aliases `stations` / `trains`; a reindex builds `stations_v<n+1>` from search's PostgreSQL
// projection, then moves the alias in one atomic call, so searches never see a half-built index.
import { Client, type estypes } from '@elastic/elasticsearch';
import type { PrismaClient } from '@tatkal/db';
import { highlightsIn, type Highlight, type NormalizedQuery } from '../domain/text.ts';
import {
  aliasSwitchActions,
  bulkOperations,
  indexNames,
  nextVersionedIndex,
  stationIndexBody,
  stationSearchRequest,
  trainIndexBody,
  trainSearchRequest,
  type IndexNames,
  type StationSource,
  type TrainSource,
} from './elasticsearchQueries.ts';
import type { SearchBackend, Slice, StationResult, TrainResult } from './types.ts';

/** The part of the client the search path needs: what tests fake. */
export interface EsSearchClient {
  search<T>(request: estypes.SearchRequest, options?: { signal?: AbortSignal }): Promise<estypes.SearchResponse<T>>;
}

export function createElasticsearchClient(url: string, requestTimeoutMs: number): Client {
  // No retries here: the circuit breaker decides what happens when Elasticsearch is slow or down.
  return new Client({ node: url, requestTimeout: requestTimeoutMs, maxRetries: 0 });
}

export const searchClientOf = (client: Client): EsSearchClient => ({
  search: <T>(request: estypes.SearchRequest, options?: { signal?: AbortSignal }) => client.search<T>(request, options),
});

/** Highlights of the first field (name, aliases, city, code) that holds the query's words. */
function stationHighlights(doc: StationSource, q: NormalizedQuery): Highlight[] {
  const name = highlightsIn('name', doc.name, q.tokens);
  if (name.length) return name;
  for (const alias of doc.aliases) {
    const h = highlightsIn('alias', alias, q.tokens);
    if (h.length) return h;
  }
  const city = highlightsIn('city', doc.city, q.tokens);
  return city.length ? city : highlightsIn('code', doc.code, q.tokens);
}

export function createElasticsearchBackend(client: EsSearchClient, names: IndexNames = indexNames()): SearchBackend {
  return {
    name: 'elasticsearch',
    async searchStations(q: NormalizedQuery, slice: Slice): Promise<StationResult[]> {
      const res = await client.search<StationSource>(stationSearchRequest(names.stations, q, slice));
      return res.hits.hits.flatMap((hit) => {
        const doc = hit._source;
        if (!doc) return [];
        return [
          { ...doc, score: Math.round((hit._score ?? 0) * 10_000) / 10_000, highlights: stationHighlights(doc, q) },
        ];
      });
    },
    async searchTrains(q: NormalizedQuery, slice: Slice): Promise<TrainResult[]> {
      const res = await client.search<TrainSource>(trainSearchRequest(names.trains, q, slice));
      return res.hits.hits.flatMap((hit) => {
        const doc = hit._source;
        if (!doc) return [];
        const number = highlightsIn('number', doc.number, q.tokens);
        return [
          {
            ...doc,
            score: Math.round((hit._score ?? 0) * 10_000) / 10_000,
            highlights: number.length ? number : highlightsIn('name', doc.name, q.tokens),
          },
        ];
      });
    },
  };
}

// ───────────────────────────── indexing ─────────────────────────────

const BULK_CHUNK = 500;

/** Bulk-indexes in chunks; any item error fails the whole load (a reindex must be complete). */
export async function bulkIndex<T>(
  client: Client,
  index: string,
  docs: T[],
  idOf: (doc: T) => string,
): Promise<number> {
  for (let i = 0; i < docs.length; i += BULK_CHUNK) {
    const res = await client.bulk({ operations: bulkOperations(index, docs.slice(i, i + BULK_CHUNK), idOf) });
    if (res.errors) {
      const failed = res.items.find((item) => Object.values(item)[0]?.error);
      const reason = failed ? JSON.stringify(Object.values(failed)[0]?.error) : 'unknown';
      throw new Error(`bulk indexing into ${index} failed: ${reason}`);
    }
  }
  return docs.length;
}

export async function loadStationSources(prisma: PrismaClient): Promise<StationSource[]> {
  return prisma.stationDoc.findMany({
    select: { code: true, name: true, city: true, state: true, aliases: true },
    orderBy: { code: 'asc' },
  });
}

export async function loadTrainSources(prisma: PrismaClient): Promise<TrainSource[]> {
  return prisma.trainDoc.findMany({ select: { number: true, name: true, type: true }, orderBy: { number: 'asc' } });
}

async function indicesOf(client: Client, alias: string): Promise<{ all: string[]; aliased: string[] }> {
  const all = Object.keys(
    await client.indices.get({ index: `${alias}_v*`, allow_no_indices: true, ignore_unavailable: true }),
  );
  const aliased = (await client.indices.existsAlias({ name: alias }))
    ? Object.keys(await client.indices.getAlias({ name: alias }))
    : [];
  return { all, aliased };
}

export interface RebuildOutcome {
  alias: string;
  index: string;
  documents: number;
  removed: string[];
}

/** Builds the next versioned index, fills it, refreshes it, moves the alias, drops the old versions. */
export async function rebuildIndex<T>(
  client: Client,
  alias: string,
  body: ReturnType<typeof stationIndexBody>,
  docs: T[],
  idOf: (doc: T) => string,
): Promise<RebuildOutcome> {
  const { all, aliased } = await indicesOf(client, alias);
  const index = nextVersionedIndex(alias, all);
  await client.indices.create({ index, settings: body.settings, mappings: body.mappings });
  try {
    const documents = await bulkIndex(client, index, docs, idOf);
    await client.indices.refresh({ index });
    await client.indices.updateAliases({ actions: aliasSwitchActions(alias, aliased, index) });
    const removed = all.filter((i) => i !== index);
    if (removed.length) await client.indices.delete({ index: removed, ignore_unavailable: true });
    return { alias, index, documents, removed };
  } catch (err) {
    // The alias still points at the old index: searches are unaffected; drop the half-built one.
    await client.indices.delete({ index, ignore_unavailable: true }).catch(() => {});
    throw err;
  }
}

export async function rebuildElasticsearch(
  client: Client,
  prisma: PrismaClient,
  names: IndexNames = indexNames(),
): Promise<RebuildOutcome[]> {
  return [
    await rebuildIndex(client, names.stations, stationIndexBody(), await loadStationSources(prisma), (d) => d.code),
    await rebuildIndex(client, names.trains, trainIndexBody(), await loadTrainSources(prisma), (d) => d.number),
  ];
}

/** Keeps one document current after an event (the next reindex would fix a miss). */
export async function indexOne(
  client: Client,
  alias: string,
  id: string,
  doc: StationSource | TrainSource,
): Promise<void> {
  await client.index({ index: alias, id, document: doc });
}
