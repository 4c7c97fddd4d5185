#!/usr/bin/env node
// `npm start` / `npm test` on a fresh clone: install the pinned pnpm workspace when needed,
// generate the Prisma client, then hand over to scripts/dev.ts or the test runner.
// Plain Node with no dependencies, because nothing is installed yet when it runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = 'pnpm@10.34.8';
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function must(cmd, args, env = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (res.status !== 0) {
    console.error(`bootstrap: ${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
    process.exit(res.status || 1);
  }
}

function ensureInstalled() {
  const marker = join(root, 'node_modules/.modules.yaml');
  if (mtime(marker) >= mtime(join(root, 'pnpm-lock.yaml'))) return;
  console.log('bootstrap: installing dependencies (pnpm install --frozen-lockfile)');
  // corepack's signature check fails against some registries; npx fetches the pinned pnpm instead.
  must('npx', ['-y', PNPM, 'install', '--frozen-lockfile'], { COREPACK_ENABLE_STRICT: '0' });
}

function ensureClient() {
  const client = join(root, 'packages/db/src/generated/prisma/client.ts');
  if (mtime(client) >= mtime(join(root, 'prisma/schema.prisma'))) return;
  must(process.execPath, [join(root, 'scripts/prisma.mjs'), 'generate']);
}

/** The web app's build (apps/web/dist) when a source is newer: npm start serves it, the browser test drives it. */
function ensureWebApp() {
  must(join(root, 'node_modules/.bin/tsx'), [join(root, 'apps/web/build.ts'), '--if-stale']);
}

const [command, ...rest] = process.argv.slice(2);
ensureInstalled();
ensureClient();
ensureWebApp();

const bin = (name) => join(root, 'node_modules/.bin', name);
const child =
  command === 'start'
    ? spawn(bin('tsx'), [join(root, 'scripts/dev.ts'), ...rest], { cwd: root, stdio: 'inherit' })
    : command === 'test'
      ? spawn(bin('tsx'), [join(root, 'scripts/test.ts'), ...rest], { cwd: root, stdio: 'inherit' })
      : null;
if (!child) {
  console.error('usage: node scripts/bootstrap.mjs start|test');
  process.exit(2);
}
// Ctrl-C reaches the whole process group; the child shuts its own processes down.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
