import { createLogger, initTelemetry, onShutdown, runMain, startTracing } from '@tatkal/common';
import { loadBookingConfig } from './config.ts';
import { startBookingService } from './service.ts';

runMain('booking', async () => {
  // First: the servers and clients built below are traced only if tracing is on when they start.
  const tracing = await startTracing('booking');
  const config = loadBookingConfig();
  const logger = createLogger('booking', config.LOG_LEVEL);
  initTelemetry({ service: 'booking' });
  const service = await startBookingService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'booking subgraph ready');
  onShutdown(logger, [
    { name: 'booking', close: service.close },
    { name: 'tracing', close: () => tracing?.shutdown() },
  ]);
});
