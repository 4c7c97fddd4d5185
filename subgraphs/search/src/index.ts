import { createLogger, initTelemetry, onShutdown, runMain } from '@tatkal/common';
import { loadSearchConfig } from './config.ts';
import { startSearchService } from './service.ts';

runMain('search', async () => {
  const config = loadSearchConfig();
  const logger = createLogger('search', config.LOG_LEVEL);
  initTelemetry({ service: 'search' });
  const service = await startSearchService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'search subgraph ready');
  onShutdown(logger, [{ name: 'search', close: service.close }]);
});
