import { createAmqpConnection, registerTopology, startSubgraphService, type Logger } from '@tatkal/common';
import { connectPrisma, databaseReady, type PrismaClient } from '@tatkal/db';
import type { Client } from '@elastic/elasticsearch';
import {
  createElasticsearchBackend,
  createElasticsearchClient,
  indexOne,
  loadStationSources,
  loadTrainSources,
  rebuildIndex,
  searchClientOf,
} from './backends/elasticsearch.ts';
import { indexNames, stationIndexBody, trainIndexBody, type IndexNames } from './backends/elasticsearchQueries.ts';
import { createPostgresBackend } from './backends/postgres.ts';
import { createResilientSearch } from './backends/resilient.ts';
import type { SearchConfig } from './config.ts';
import { networkEventsQueue, startNetworkEventsConsumer, type NetworkEventHooks } from './events/networkEvents.ts';
import { buildSearchServer } from './server.ts';

/** Wires and starts the search subgraph: used by index.ts and by end-to-end tests (port 0). */
export async function startSearchService(config: SearchConfig, logger: Logger) {
  const prisma = await connectPrisma(config.DATABASE_URL, { applicationName: 'search' });
  const es = config.ELASTICSEARCH_URL
    ? createElasticsearchClient(config.ELASTICSEARCH_URL, config.ES_TIMEOUT_MS * 2)
    : null;
  const names = indexNames(config.ES_INDEX_PREFIX);
  const search = createResilientSearch({
    primary: es ? createElasticsearchBackend(searchClientOf(es), names) : null,
    fallback: createPostgresBackend(prisma),
    logger,
    breaker: { timeoutMs: config.ES_TIMEOUT_MS, resetTimeoutMs: config.ES_BREAKER_RESET_MS },
  });
  logger.info({ backend: search.stats().primary }, 'search backend');
  // First start against an empty Elasticsearch: build the indices in the background (PostgreSQL
  // answers meanwhile through the fallback). Afterwards only `npm run search:reindex` rebuilds.
  const bootstrap = config.ELASTICSEARCH_URL
    ? bootstrapIndices(createElasticsearchClient(config.ELASTICSEARCH_URL, 60_000), prisma, names, logger)
    : Promise.resolve();
  const { server } = buildSearchServer({ logger, production: config.NODE_ENV === 'production' });
  const http = await startSubgraphService({
    config,
    server,
    logger,
    // Elasticsearch is not a readiness condition: PostgreSQL answers while it is away.
    readiness: { database: () => databaseReady(prisma) },
    extendContext: (base) => ({ ...base, prisma, search, served: { backend: null } }),
  });
  const hooks: NetworkEventHooks = es
    ? {
        onStation: (doc) => indexOne(es, names.stations, doc.code, doc),
        onTrain: (doc) => indexOne(es, names.trains, doc.number, doc),
      }
    : {};
  const events = startEvents(config, logger, prisma, hooks);
  return {
    url: http.url,
    search,
    close: async () => {
      await http.close();
      await bootstrap;
      await events?.close();
      search.shutdown();
      await es?.close();
      await prisma.$disconnect();
    },
  };
}

async function bootstrapIndices(es: Client, prisma: PrismaClient, names: IndexNames, logger: Logger): Promise<void> {
  try {
    for (const [alias, rebuild] of [
      [
        names.stations,
        async () =>
          rebuildIndex(es, names.stations, stationIndexBody(), await loadStationSources(prisma), (d) => d.code),
      ],
      [
        names.trains,
        async () => rebuildIndex(es, names.trains, trainIndexBody(), await loadTrainSources(prisma), (d) => d.number),
      ],
    ] as const) {
      if (await es.indices.existsAlias({ name: alias })) continue;
      const outcome = await rebuild();
      logger.info(outcome, 'built a missing Elasticsearch index');
    }
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'could not check or build the Elasticsearch indices; PostgreSQL answers until search:reindex succeeds',
    );
  } finally {
    await es.close().catch(() => {});
  }
}

/** The network-event consumer; never blocks start-up (it subscribes when RabbitMQ is reachable). */
function startEvents(config: SearchConfig, logger: Logger, prisma: PrismaClient, hooks: NetworkEventHooks) {
  if (!config.EVENTS_ENABLED) return null;
  if (!config.AMQP_URL) {
    logger.warn('AMQP_URL not set: search does not follow booking network events (run search:reindex after changes)');
    return null;
  }
  const connection = createAmqpConnection({ url: config.AMQP_URL, logger, name: 'search' });
  // The booking exchange as booking declares it, so the binding works whichever process starts first.
  registerTopology(connection, {
    exchanges: [networkEventsQueue(config.EVENTS_PREFIX).bindings[0]!.exchange],
    queues: [],
  });
  const consumer = startNetworkEventsConsumer({ connection, prisma, logger, prefix: config.EVENTS_PREFIX, hooks });
  return {
    async close() {
      await consumer.stop();
      await connection.close();
    },
  };
}
