// `npm run search:reindex`: rebuilds search from search's own tables. Always recomputes the
// PostgreSQL projection's search_text; with ELASTICSEARCH_URL also builds new versioned indices
// (stations_v<n+1>, trains_v<n+1>) from the projection and switches the aliases to them.
//   DATABASE_URL=... [ELASTICSEARCH_URL=http://127.0.0.1:9200] [ES_INDEX_PREFIX=] tsx subgraphs/search/src/reindex.ts
import { createPrisma, type PrismaClient } from '@tatkal/db';
import { createElasticsearchClient, rebuildElasticsearch, type RebuildOutcome } from './backends/elasticsearch.ts';
import { indexNames } from './backends/elasticsearchQueries.ts';
import { refreshStationText, refreshTrainText } from './projection.ts';

export interface ReindexOutcome {
  stationTextsChanged: number;
  trainTextsChanged: number;
  elasticsearch: RebuildOutcome[] | null;
}

export async function reindex(
  prisma: PrismaClient,
  opts: { elasticsearchUrl?: string; indexPrefix?: string } = {},
): Promise<ReindexOutcome> {
  const [stationTextsChanged, trainTextsChanged] = await prisma.$transaction([
    refreshStationText(prisma),
    refreshTrainText(prisma),
  ]);
  let elasticsearch: RebuildOutcome[] | null = null;
  if (opts.elasticsearchUrl) {
    const client = createElasticsearchClient(opts.elasticsearchUrl, 60_000);
    try {
      elasticsearch = await rebuildElasticsearch(client, prisma, indexNames(opts.indexPrefix));
    } finally {
      await client.close();
    }
  }
  return { stationTextsChanged, trainTextsChanged, elasticsearch };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('search:reindex: DATABASE_URL is not set');
    process.exit(1);
  }
  const prisma = createPrisma(url, { applicationName: 'search-reindex' });
  reindex(prisma, {
    elasticsearchUrl: process.env.ELASTICSEARCH_URL || undefined,
    indexPrefix: process.env.ES_INDEX_PREFIX ?? '',
  })
    .then(async (outcome) => {
      console.log(
        `search:reindex: search_text recomputed (${outcome.stationTextsChanged} stations, ` +
          `${outcome.trainTextsChanged} trains changed)`,
      );
      if (!outcome.elasticsearch) console.log('search:reindex: ELASTICSEARCH_URL not set; PostgreSQL projection only');
      for (const r of outcome.elasticsearch ?? []) {
        const removed = r.removed.length ? `; removed ${r.removed.join(', ')}` : '';
        console.log(`search:reindex: ${r.alias} -> ${r.index} (${r.documents} documents${removed})`);
      }

      await prisma.$disconnect();
    })
    .catch(async (err: unknown) => {
      console.error(`search:reindex: failed: ${err instanceof Error ? err.message : String(err)}`);
      await prisma.$disconnect();
      process.exit(1);
    });
}
