import { createLogger, initTelemetry, onShutdown, runMain } from '@tatkal/common';
import { loadPaymentConfig } from './config.ts';
import { startPaymentService } from './service.ts';

runMain('payment', async () => {
  const config = loadPaymentConfig();
  const logger = createLogger('payment', config.LOG_LEVEL);
  initTelemetry({ service: 'payment' });
  const service = await startPaymentService(config, logger);
  logger.info({ url: `${service.url}/graphql`, webhooks: `${service.webhookUrl}/webhooks/payments` }, 'payment subgraph ready');
  onShutdown(logger, [{ name: 'payment', close: service.close }]);
});
