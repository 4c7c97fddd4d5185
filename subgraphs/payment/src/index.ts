import { createLogger, initTelemetry, onShutdown, runMain, startTracing } from '@tatkal/common';
import { loadPaymentConfig } from './config.ts';
import { startPaymentService } from './service.ts';

runMain('payment', async () => {
  const config = loadPaymentConfig();
  // The webhook sidecar is a process of its own in traces (its spans start the payment's trace).
  const tracing = await startTracing(config.PAYMENT_ROLE === 'webhooks' ? 'payment-webhooks' : 'payment');
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
  onShutdown(logger, [
    { name: 'payment', close: service.close },
    { name: 'tracing', close: () => tracing?.shutdown() },
  ]);
});
