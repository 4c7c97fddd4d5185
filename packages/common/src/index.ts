export * from './config.ts';
export * from './errors.ts';
export * from './http.ts';
export * from './identity.ts';
export * from './logger.ts';
export * from './redis.ts';
export * from './shutdown.ts';
export * from './subgraph.ts';
