// A process that cannot start says why in one line and exits non-zero; nothing half-starts.
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDIS_URL } from './support/env.ts';

const root = join(import.meta.dirname, '..');
const tsx = join(root, 'node_modules/.bin/tsx');

function start(entry: string, env: Record<string, string>) {
  // Only PATH and HOME from the outside: no DATABASE_URL or similar leaks in from the shell.
  const res = spawnSync(tsx, [entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: res.status, stderr: res.stderr.trim() };
}

const JWKS = { AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json' };

describe('start-up failures', () => {
  it('names a missing environment variable', () => {
    const res = start('subgraphs/booking/src/index.ts', { ...JWKS, REDIS_URL, AMQP_URL: 'amqp://127.0.0.1' });
    expect(res.status).toBe(1);
    expect(res.stderr).toBe('booking: failed to start: invalid configuration: DATABASE_URL: required but not set');
  });

  it('names a malformed variable', () => {
    const res = start('subgraphs/search/src/index.ts', { ...JWKS, DATABASE_URL: 'mysql://x' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(
      /^search: failed to start: invalid configuration: DATABASE_URL: must be a postgresql: or postgres: URL$/,
    );
  });

  it('names an unreachable database', () => {
    const res = start('subgraphs/payment/src/index.ts', {
      ...JWKS,
      AMQP_URL: 'amqp://127.0.0.1',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing',
      PORT: '0',
      WEBHOOK_PORT: '0',
      PAYMENT_WEBHOOK_SECRET: 'whsec_startup_test_only_0000',
    });
    expect(res.status).toBe(1);
    expect(res.stderr.split('\n'), res.stderr).toHaveLength(1);
    expect(res.stderr).toMatch(/^payment: failed to start: database unreachable/);
  });

  it('refuses to run a production subgraph that could not tell the gateway from any caller', () => {
    const base = { ...JWKS, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing', NODE_ENV: 'production' };
    const res = start('subgraphs/search/src/index.ts', base);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(
      'search: failed to start: invalid configuration: IDENTITY_ASSERTION_SECRET: required but not set ' +
        '(production: only requests the gateway signed with it are answered)',
    );
    // Said in so many words, it starts (and gets as far as the database).
    const unsigned = start('subgraphs/search/src/index.ts', { ...base, REQUIRE_GATEWAY_SIGNATURE: 'false' });
    expect(unsigned.status).toBe(1);
    expect(unsigned.stderr).toMatch(/^search: failed to start: database unreachable/);
  });

  it('refuses a supergraph that does not compose', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tatkal-sg-'));
    const path = join(dir, 'supergraph.graphql');
    writeFileSync(path, 'type Query { broken: Nope }');
    const res = start('gateway/src/index.ts', { ...JWKS, REDIS_URL, SUPERGRAPH_PATH: path, PORT: '0' });
    expect(res.status).toBe(1);
    expect(res.stderr.split('\n'), res.stderr).toHaveLength(1);
    expect(res.stderr).toMatch(/^gateway: failed to start: supergraph at .* could not be loaded/);
  });
});
