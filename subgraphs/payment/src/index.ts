import { createLogger, initTelemetry, onShutdown, runMain } from '@tatkal/common';
import { loadPaymentConfig } from './config.ts';
import { startPaymentService } from './service.ts';

runMain('payment', async () => {
  const config = loadPaymentConfig();
  const logger = createLogger('payment', config.LOG_LEVEL);
  initTelemetry({ service: 'payment' });
  const service = await startPaymentService(config, logger);
  logger.info(
    {
      role: config.PAYMENT_ROLE,
      url: service.url && `${service.url}/graphql`,
      webhooks: service.webhookUrl && `${service.webhookUrl}/webhooks/payments`,
    },
    config.PAYMENT_ROLE === 'webhooks' ? 'payment webhook sidecar ready' : 'payment subgraph ready',
  );
  onShutdown(logger, [{ name: 'payment', close: service.close }]);
});
