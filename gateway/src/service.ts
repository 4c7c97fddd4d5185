import { readFileSync } from 'node:fs';
import { createRedis, createTokenVerifier, type Logger } from '@tatkal/common';
import { subgraphUrlOverrides, type GatewayConfig } from './config.ts';
import { serveGateway } from './server.ts';

/** Wires and starts the gateway: used by index.ts and by end-to-end tests (port 0). */
export async function startGatewayService(config: GatewayConfig, logger: Logger) {
  let supergraphSdl: string;
  try {
    supergraphSdl = readFileSync(config.SUPERGRAPH_PATH, 'utf8');
  } catch {
    throw new Error(`SUPERGRAPH_PATH: cannot read ${config.SUPERGRAPH_PATH} (run pnpm schema:compose)`);
  }
  const redis = createRedis(config.REDIS_URL, { name: 'gateway' });
  try {
    const http = await serveGateway({
      supergraphSdl,
      subgraphUrls: subgraphUrlOverrides(config),
      verifyToken: createTokenVerifier({ jwksUrl: config.AUTH_JWKS_URL, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
      logger,
      production: config.NODE_ENV === 'production',
      port: config.PORT,
      corsOrigins: config.CORS_ORIGINS,
      bodyLimit: config.BODY_LIMIT,
      ready: async () => ({ supergraph: true }),
    });
    return {
      url: http.url,
      close: async () => {
        await http.close();
        redis.disconnect();
      },
    };
  } catch (err) {
    redis.disconnect();
    throw new Error(`supergraph at ${config.SUPERGRAPH_PATH} could not be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
}
