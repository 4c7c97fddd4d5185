// A task run every `intervalMs`, one run at a time (the next starts `intervalMs` after the last
// ended), its failures logged and retried next time; `stop()` waits for a run in progress.
import type { Logger } from './logger.ts';

export interface Periodic {
  /** Resolves once no run is in progress. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export function startPeriodic(
  opts: { name: string; intervalMs: number; logger: Logger; runAtStart?: boolean },
  task: (isStopped: () => boolean) => Promise<void>,
): Periodic {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = async () => {
    try {
      await task(() => stopped);
    } catch (err) {
      opts.logger.error({ err, task: opts.name }, `${opts.name} failed; will retry`);
    }
  };
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = null;
        schedule(opts.intervalMs);
      });
    }, delay);
  };
  if (opts.intervalMs > 0) schedule(opts.runAtStart ? 0 : opts.intervalMs);
  return {
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
