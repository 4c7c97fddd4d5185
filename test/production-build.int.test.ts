// The production image's code runs: scripts/build.mjs compiles the runtime sources the way the
// Dockerfile does, then booking (Prisma's generated client, its .graphql schema, RabbitMQ, Redis)
// and the gateway start with plain `node` from the compiled tree and answer /ready and a query.
// Dependencies come from this checkout's install, linked in (the Dockerfile's `pnpm install
// --prod` and its pruning are measured in docs/operations.md, "The production image"), with the
// workspace packages pointing at their compiled copies, never at the TypeScript sources.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteEventTopology } from '@tatkal/common';
import { compile, RUNTIME_PACKAGES } from '../scripts/build.mjs';
import { startProcess, type RunningProcess } from '../packages/testkit/src/processes.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { AMQP_URL, REDIS_URL } from './support/env.ts';

const root = join(import.meta.dirname, '..');
const prefix = `t${randomBytes(4).toString('hex')}_`;
let out: string;
let db: TestDatabase;
const running: RunningProcess[] = [];

/** Each runtime package's node_modules, linked to this install's; @tatkal/* to the compiled packages. */
function linkDependencies(): void {
  const workspace = new Map(
    RUNTIME_PACKAGES.map((p) => [JSON.parse(readFileSync(join(root, p, 'package.json'), 'utf8')).name, p]),
  );
  for (const pkg of ['.', ...RUNTIME_PACKAGES]) {
    const from = join(root, pkg, 'node_modules');
    const to = join(out, pkg, 'node_modules');
    const names = readdirSync(from, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.'))
      .flatMap((e) =>
        e.name.startsWith('@') ? readdirSync(join(from, e.name)).map((n) => `${e.name}/${n}`) : [e.name],
      );
    for (const name of names) {
      const own = workspace.get(name);
      const target = own ? join(out, own) : realpathSync(join(from, name));
      mkdirSync(dirname(join(to, name)), { recursive: true });
      symlinkSync(target, join(to, name));
    }
  }
}

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'tatkal-build-'));
  await compile(out);
  linkDependencies();
  db = await createTestDatabase('production_build');
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  const admin = await amqp.connect(AMQP_URL).catch(() => null);
  if (admin) {
    await deleteEventTopology(admin, prefix).catch(() => undefined);
    await admin.close();
  }
  await db?.drop();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('the production build (scripts/build.mjs)', () => {
  it('compiles every runtime file to JavaScript beside its source, with what the processes read', () => {
    for (const file of [
      'gateway/src/index.js',
      'subgraphs/booking/src/index.js',
      'subgraphs/booking/src/schema.graphql',
      'packages/db/src/generated/prisma/client.js',
      'prisma/seed/seed.js',
      'prisma/migrations/migration_lock.toml',
      'supergraph.graphql',
      'scripts/prisma.mjs',
    ])
      expect(existsSync(join(out, file)), file).toBe(true);
    // The workspace packages export their compiled files.
    const common = JSON.parse(readFileSync(join(out, 'packages/common/package.json'), 'utf8'));
    expect(common.exports).toEqual({ '.': './src/index.js', './*': './src/*.js' });
    // No test code ships.
    expect(existsSync(join(out, 'subgraphs/booking/test'))).toBe(false);
  });

  it('starts booking and the gateway with node from the compiled files; a query goes through both', async () => {
    const node = { command: process.execPath, timeoutMs: 90_000 };
    const base = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      REDIS_URL,
      AMQP_URL,
      EVENTS_PREFIX: prefix,
      INVENTORY_HORIZON_DAYS: '0',
      AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
    };
    const booking = await startProcess(
      'booking (compiled)',
      'booking',
      { ...base, DATABASE_URL: db.url },
      { ...node, args: [join(out, 'subgraphs/booking/src/index.js')] },
    );
    running.push(booking);
    const gateway = await startProcess(
      'gateway (compiled)',
      'gateway',
      { ...base, SUPERGRAPH_PATH: join(out, 'supergraph.graphql'), BOOKING_URL: `${booking.url}/graphql` },
      { ...node, args: [join(out, 'gateway/src/index.js')] },
    );
    running.push(gateway);
    // The process really is the compiled one: node on the .js, no tsx anywhere.
    const cmdline = readFileSync(`/proc/${booking.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain(join(out, 'subgraphs/booking/src/index.js'));
    expect(cmdline.join(' ')).not.toContain('tsx');
    // A query planned by the gateway and answered by booking from PostgreSQL (Prisma's client).
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
      body: JSON.stringify({ query: '{ station(code: "NDLS") { code name } }' }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: unknown };
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data).toMatchObject({ station: { code: 'NDLS' } });
  }, 180_000);
});
