import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { express, LISTEN_BACKLOG, listen, READINESS_CHECK_TIMEOUT_MS, readinessChecks } from './http.ts';

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

describe('listen', () => {
  it("queues a rush's connections in the kernel instead of dropping their SYNs (a deep accept queue)", async () => {
    const http = await listen(express(), 0, '127.0.0.1');
    try {
      // For a listening socket, `ss` shows the accept queue's size as Send-Q; the kernel caps it.
      const out = execFileSync('ss', ['-ltnH', `sport = :${http.port}`], { encoding: 'utf8' });
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      expect(Number(out.trim().split(/\s+/)[2])).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
      expect(Math.min(LISTEN_BACKLOG, somaxconn)).toBeGreaterThan(511);
    } finally {
      await http.close();
    }
  });
});
