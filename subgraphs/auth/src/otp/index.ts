// The development OTP simulator as a process (`npm start`), port 4007. Never in production.
import { ConfigError, createLogger, env, initTelemetry, loadConfig, onShutdown, runMain } from '@tatkal/common';
import { createOtpSimulator } from './simulator.ts';

runMain('otp-simulator', async () => {
  const config = loadConfig({
    NODE_ENV: env.nodeEnv,
    OTP_SIMULATOR_PORT: env.port(4007),
    /** Loopback unless told: it holds codes in clear. */
    HOST: env.host,
    LOG_LEVEL: env.logLevel,
  });
  if (config.NODE_ENV === 'production')
    throw new ConfigError('invalid configuration: NODE_ENV: the OTP simulator is for development and tests only');
  const logger = createLogger('otp-simulator', config.LOG_LEVEL);
  initTelemetry({ service: 'otp-simulator' });
  const simulator = createOtpSimulator({ logger });
  const http = await simulator.listen(config.OTP_SIMULATOR_PORT, config.HOST);
  logger.info({ url: http.url }, 'OTP simulator ready');
  onShutdown(logger, [{ name: 'otp-simulator', close: simulator.close }]);
});
