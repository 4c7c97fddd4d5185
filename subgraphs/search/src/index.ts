import { createLogger, initTelemetry, onShutdown, runMain, startTracing } from '@tatkal/common';
import { loadSearchConfig } from './config.ts';
import { startSearchService } from './service.ts';

runMain('search', async () => {
  // First: the servers and clients built below are traced only if tracing is on when they start.
  const tracing = await startTracing('search');
  const config = loadSearchConfig();
  const logger = createLogger('search', config.LOG_LEVEL);
  initTelemetry({ service: 'search' });
  const service = await startSearchService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'search subgraph ready');
  onShutdown(logger, [
    { name: 'search', close: service.close },
    { name: 'tracing', close: () => tracing?.shutdown() },
  ]);
});
