#!/usr/bin/env node
// The production build (Dockerfile, build stage): every runtime TypeScript file compiled to
// JavaScript by esbuild, one .js beside where its .ts was (same tree, so `new URL('./schema.graphql',
// import.meta.url)` and the seed's data files still resolve), plus the files the processes read at
// run time. No tsx at run time: `node subgraphs/booking/src/index.js`.
//
//   node scripts/build.mjs [--out dist]             compile into dist/ (git- and docker-ignored)
//   node scripts/build.mjs --out dist --install     ...then install production dependencies there
//
// Imports stay imports (nothing is bundled): node_modules packages load as themselves, so
// OpenTelemetry's instrumentations can patch them, and relative `.ts` specifiers become `.js`.
// Workspace packages (@tatkal/common, @tatkal/db) get package.json files whose exports point at
// the .js files. `--install` runs the same `pnpm install --prod` the Dockerfile runs.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Workspace packages the services run (not the client, the web app, the test kit or the bench). */
export const RUNTIME_PACKAGES = [
  'gateway',
  'subgraphs/auth',
  'subgraphs/booking',
  'subgraphs/search',
  'subgraphs/payment',
  'packages/common',
  'packages/db',
];
/** Source trees compiled: each package's src, and the seed the migrate Job runs. */
const SOURCE_DIRS = [...RUNTIME_PACKAGES.map((p) => `${p}/src`), 'prisma/seed'];
/** Files the processes read at run time, copied as they are. */
const ASSETS = [
  'package.json',
  'pnpm-lock.yaml',
  'pnpm-workspace.yaml',
  'supergraph.graphql',
  'packages/client/src/gql/persisted-documents.json',
  'prisma/schema.prisma',
  'prisma/migrate.config.ts',
  'prisma/migrations',
  'prisma/seed/data',
  'scripts/prisma.mjs',
];
const isTest = (name) => /\.(test|int\.test|e2e\.test)\.ts$/.test(name) || name === 'test';

function walk(dir, files = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || isTest(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, files);
    else files.push(path);
  }
  return files;
}

/** Every import stays external; a relative `.ts` one is renamed to the `.js` this build writes. */
const keepImports = {
  name: 'keep-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === 'entry-point') return undefined;
      const path = /^\.\.?\//.test(a.path) ? a.path.replace(/\.ts$/, '.js') : a.path;
      return { path, external: true };
    });
  },
};

/** Compiles the runtime sources into `out` and copies what they read; returns the number of files compiled. */
export async function compile(out) {
  rmSync(out, { recursive: true, force: true });
  const sources = SOURCE_DIRS.flatMap((d) => walk(join(root, d)));
  const entryPoints = sources.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const generated = join(root, 'packages/db/src/generated/prisma/client.ts');
  if (!existsSync(generated)) throw new Error('no Prisma client: run `node scripts/prisma.mjs generate` first');
  await build({
    entryPoints,
    outdir: out,
    outbase: root,
    bundle: true,
    plugins: [keepImports],
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  // Non-TypeScript files of the compiled trees (GraphQL schemas, JSON, wasm of the Prisma client).
  for (const file of sources.filter((f) => !f.endsWith('.ts'))) copy(out, relative(root, file));
  for (const asset of ASSETS) copy(out, asset);
  for (const pkg of RUNTIME_PACKAGES) writeManifest(out, pkg);
  return entryPoints.length;
}

function copy(out, path) {
  const from = join(root, path);
  if (!existsSync(from)) throw new Error(`${path} is missing (compose the supergraph and generate the client first)`);
  mkdirSync(dirname(join(out, path)), { recursive: true });
  cpSync(from, join(out, path), { recursive: statSync(from).isDirectory() });
}

/** The package's manifest with `src/x.ts` targets (main, exports) pointing at `src/x.js`. */
function writeManifest(out, pkg) {
  const manifest = JSON.parse(readFileSync(join(root, pkg, 'package.json'), 'utf8'));
  const toJs = (value) =>
    typeof value === 'string'
      ? value.replace(/\.ts$/, '.js')
      : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJs(v)]));
  for (const field of ['main', 'exports']) if (manifest[field]) manifest[field] = toJs(manifest[field]);
  delete manifest.types;
  delete manifest.scripts;
  writeFileSync(join(out, pkg, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Production dependencies of the runtime packages only (pnpm's own store, no dev tools). */
export function installProd(out) {
  const filters = ['.', ...RUNTIME_PACKAGES].flatMap((p) => ['--filter', `./${p}`.replace(/\/\.$/, '')]);
  // The Dockerfile passes its own pnpm (PNPM=pnpm) and its cache-mounted store (PNPM_STORE_DIR).
  const [command, ...pnpm] = process.env.PNPM ? [process.env.PNPM] : ['npx', '-y', 'pnpm@10.34.8'];
  const store = process.env.PNPM_STORE_DIR ? ['--store-dir', process.env.PNPM_STORE_DIR] : [];
  const res = spawnSync(
    command,
    [...pnpm, 'install', '--prod', '--frozen-lockfile', '--prefer-offline', ...store, ...filters],
    { cwd: out, stdio: 'inherit', env: { ...process.env, CI: '1' } },
  );
  if (res.status !== 0) throw new Error(`pnpm install --prod failed (exit ${res.status})`);
  return pruneUnreachable(out);
}

/**
 * Optional peer dependencies that the frozen lockfile installs but nothing runs: @prisma/client's
 * and prisma6's on `typescript`, and @prisma/client's on the Prisma 7 CLI (`prisma generate` ran at
 * build time). With their own dependencies (Prisma Studio, PGlite, React, ...) they are most of
 * the install.
 */
const UNUSED_PEERS = new Set(['prisma', 'typescript']);

/** Deletes every package of node_modules/.pnpm that no runtime package reaches (returns how many). */
function pruneUnreachable(out) {
  const store = join(out, 'node_modules/.pnpm');
  const reached = new Set();
  const visit = (modulesDir, skip) => {
    if (!existsSync(modulesDir)) return;
    for (const entry of readdirSync(modulesDir, { withFileTypes: true })) {
      if (entry.name === '.pnpm' || entry.name === '.bin') continue;
      const names = entry.name.startsWith('@')
        ? readdirSync(join(modulesDir, entry.name)).map((n) => `${entry.name}/${n}`)
        : [entry.name];
      for (const name of names) {
        if (skip.has(name)) continue;
        const real = realpathSync(join(modulesDir, name));
        if (!real.startsWith(`${store}/`)) continue; // a workspace package: visited as a root
        const id = relative(store, real).split('/')[0];
        if (reached.has(id)) continue;
        reached.add(id);
        // A package's dependencies are its siblings in .pnpm/<id>/node_modules.
        visit(join(store, id, 'node_modules'), UNUSED_PEERS);
      }
    }
  };
  for (const pkg of ['.', ...RUNTIME_PACKAGES]) visit(join(out, pkg, 'node_modules'), new Set());
  let removed = 0;
  for (const id of readdirSync(store)) {
    if (id === 'node_modules' || id === 'lock.yaml' || reached.has(id)) continue;
    rmSync(join(store, id), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const out = resolve(root, outIndex >= 0 ? args[outIndex + 1] : 'dist');
  const install = args.includes('--install');
  const started = performance.now();
  const files = await compile(out);
  const pruned = install ? installProd(out) : 0;
  if (install) console.log(`build: ${pruned} packages no runtime package reaches removed from node_modules/.pnpm`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`build: ${files} files compiled into ${relative(root, out) || '.'} in ${seconds} s`);
}
