import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@tatkal/common';

/** Tests log only what goes wrong. */
export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** A logger whose JSON lines the test reads (what a process logs, as a log shipper sees it). */
export function captureLogger(name = 'test'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(name, 'info', stream), lines };
}
