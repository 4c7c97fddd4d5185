import { createLogger, initTelemetry, onShutdown, runMain } from '@tatkal/common';
import { loadBookingConfig } from './config.ts';
import { startBookingService } from './service.ts';

runMain('booking', async () => {
  const config = loadBookingConfig();
  const logger = createLogger('booking', config.LOG_LEVEL);
  initTelemetry({ service: 'booking' });
  const service = await startBookingService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'booking subgraph ready');
  onShutdown(logger, [{ name: 'booking', close: service.close }]);
});
