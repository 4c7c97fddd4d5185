import { createLogger, initTelemetry, onShutdown, runMain } from '@tatkal/common';
import { loadGatewayConfig } from './config.ts';
import { startGatewayService } from './service.ts';

runMain('gateway', async () => {
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.LOG_LEVEL);
  initTelemetry({ service: 'gateway' });
  const service = await startGatewayService(config, logger);
  logger.info({ url: `${service.url}/graphql` }, 'gateway ready');
  onShutdown(logger, [{ name: 'gateway', close: service.close }]);
});
