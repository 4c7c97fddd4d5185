import { createLogger, initTelemetry, onShutdown, runMain, startTracing } from '@tatkal/common';
import { loadGatewayConfig } from './config.ts';
import { startGatewayService } from './service.ts';

runMain('gateway', async () => {
  // First: the servers and clients built below are traced only if tracing is on when they start.
  const tracing = await startTracing('gateway');
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.LOG_LEVEL);
  initTelemetry({ service: 'gateway' });
  const service = await startGatewayService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'gateway ready');
  onShutdown(logger, [
    { name: 'gateway', close: service.close },
    { name: 'tracing', close: () => tracing?.shutdown() },
  ]);
});
