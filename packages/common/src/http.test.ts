import { afterEach, describe, expect, it, vi } from 'vitest';
import { READINESS_CHECK_TIMEOUT_MS, readinessChecks } from './http.ts';

describe('readinessChecks', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers within its time-out when a dependency hangs, naming that one false', async () => {
    vi.useFakeTimers();
    let checks: Record<string, boolean> | undefined;
    const answered = readinessChecks({
      database: () => new Promise<boolean>(() => {}),
      redis: async () => true,
    })().then((c) => (checks = c));
    await vi.advanceTimersByTimeAsync(READINESS_CHECK_TIMEOUT_MS - 1);
    expect(checks).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await answered).toEqual({ database: false, redis: true });
  });
});
