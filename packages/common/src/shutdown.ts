import type { Logger } from 'pino';

type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * Graceful shutdown on SIGTERM/SIGINT: run closers in order (stop accepting first, then drain,
 * then close Prisma/Redis/AMQP), exit 0; a second signal or a stuck closer exits non-zero.
 */
export function onShutdown(logger: Logger, closers: Closer[], timeoutMs = 10_000): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    for (const closer of closers) {
      try {
        await closer.close();
      } catch (err) {
        logger.error({ err, closer: closer.name }, 'error while closing');
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** Wraps `main()`: any start-up failure prints one line naming the cause and exits 1. */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${service}: failed to start: ${message}\n`);
    process.exit(1);
  });
}
