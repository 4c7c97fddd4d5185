import { createLogger } from '@tatkal/common';

/** Tests log only what goes wrong. */
export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
