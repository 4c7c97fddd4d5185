#!/usr/bin/env node
// Runs Prisma's CLIs the way that works without Prisma's native engines (docs/prisma.md):
//   generate        Prisma 7 client generation (needs no engine)
//   migrate-deploy  apply prisma/migrations with Prisma 6's wasm schema engine
//   migrate-dev     create + apply a new migration (development; pass --name <name>)
//   migrate-status  show pending migrations
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [command, ...rest] = process.argv.slice(2);

function run(args, env) {
  const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

// Prisma 6 wants the URL in the schema; Prisma 7 rejects it there. Keep one schema and derive a
// git-ignored copy with the url added for the migration CLI.
function writeMigrateSchema() {
  const schema = readFileSync(join(root, 'prisma/schema.prisma'), 'utf8')
    .replace(/datasource db \{/, 'datasource db {\n  url = env("DATABASE_URL")')
    .replace(/output\s*=\s*"\.\.\/packages/, 'output = "../../packages');
  mkdirSync(join(root, 'prisma/.migrate'), { recursive: true });
  writeFileSync(join(root, 'prisma/.migrate/schema.prisma'), schema);
}

const prisma7 = join(root, 'node_modules/prisma/build/index.js');
const prisma6 = join(root, 'node_modules/prisma6/build/index.js');
const migrateEnv = { PRISMA_CLIENT_ENGINE_TYPE: 'client', PRISMA_HIDE_UPDATE_MESSAGE: '1' };

switch (command) {
  case 'generate':
    run([prisma7, 'generate', ...rest], { PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' });
    break;
  case 'migrate-deploy':
  case 'migrate-dev':
  case 'migrate-status':
  case 'migrate-reset': {
    if (!process.env.DATABASE_URL) {
      console.error('DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/tatkal)');
      process.exit(1);
    }
    writeMigrateSchema();
    const sub = {
      'migrate-deploy': ['deploy'],
      'migrate-dev': ['dev', '--skip-generate'],
      'migrate-status': ['status'],
      'migrate-reset': ['reset', '--force', '--skip-generate', '--skip-seed'],
    }[command];
    run([prisma6, 'migrate', ...sub, '--config', 'prisma/migrate.config.ts', ...rest], migrateEnv);
    break;
  }
  default:
    console.error('usage: node scripts/prisma.mjs generate|migrate-deploy|migrate-dev|migrate-status|migrate-reset');
    process.exit(2);
}
