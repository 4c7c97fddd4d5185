import { createLogger, initTelemetry, onShutdown, runMain, startTracing } from '@tatkal/common';
import { loadAuthConfig } from './config.ts';
import { startAuthService } from './service.ts';

runMain('auth', async () => {
  // First: the servers and clients built below are traced only if tracing is on when they start.
  const tracing = await startTracing('auth');
  const config = loadAuthConfig();
  const logger = createLogger('auth', config.LOG_LEVEL);
  initTelemetry({ service: 'auth' });
  const service = await startAuthService(config, logger);
  logger.info(
    { url: `${service.url}/graphql`, jwks: `${service.url}/.well-known/jwks.json`, otp: service.otpProvider },
    'auth subgraph ready',
  );
  onShutdown(logger, [
    { name: 'auth', close: service.close },
    { name: 'tracing', close: () => tracing?.shutdown() },
  ]);
  // Key rotation without a restart: edit AUTH_SIGNING_KEYS_FILE, then `kill -HUP <pid>`.
  process.on('SIGHUP', () => {
    service
      .reloadKeys()
      .catch((err: unknown) => logger.error({ err }, 'signing keys not reloaded; keeping the old ones'));
  });
});
