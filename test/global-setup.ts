// Builds one migrated and seeded template database per (migrations, seed data, day); test files
// clone it with CREATE DATABASE ... TEMPLATE, which takes a fraction of a second.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { todayInIndia } from '@tatkal/common/dates';
import { createPrisma } from '@tatkal/db';
import { seed } from '../prisma/seed/seed.ts';
import { databaseUrl, PG_ADMIN_URL } from './support/env.ts';

const root = join(import.meta.dirname, '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function fingerprint(): string {
  const hash = createHash('sha256').update(todayInIndia());
  for (const file of [
    ...filesUnder(join(root, 'prisma/migrations')),
    ...filesUnder(join(root, 'prisma/seed')),
  ].sort()) {
    hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  // The day in the name: templates of other days are dropped, while another checkout's template of
  // today (other migrations, its own test run in progress) is left alone.
  const day = todayInIndia().replaceAll('-', '');
  const template = `tatkal_test_tpl_${day}_${fingerprint()}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL}: ${(err as Error).message}`);
  }
  try {
    // Several projects (and CI retries) may build at once: one builder at a time.
    await admin.query('SELECT pg_advisory_lock(727274)');
    const ready = await admin.query(
      `SELECT 1 FROM pg_database
        WHERE datname = $1 AND datallowconn AND shobj_description(oid, 'pg_database') = 'ready'`,
      [template],
    );
    if (ready.rowCount === 0) {
      await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
      await admin.query(`CREATE DATABASE "${template}"`);
      const url = databaseUrl(template);
      const migrate = spawnSync(process.execPath, [join(root, 'scripts/prisma.mjs'), 'migrate-deploy'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: url },
        encoding: 'utf8',
      });
      if (migrate.status !== 0) throw new Error(`migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`);
      const prisma = createPrisma(url, { applicationName: 'test-template-seed' });
      try {
        await seed(prisma);
      } finally {
        await prisma.$disconnect();
      }
      await admin.query(`COMMENT ON DATABASE "${template}" IS 'ready'`);
      // Templates of earlier days are dead weight (today's of other checkouts may be in use).
      const old = await admin.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'tatkal_test_tpl_%' AND datname NOT LIKE $1",
        [`tatkal_test_tpl_${day}_%`],
      );
      for (const row of old.rows) await admin.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(727274)').catch(() => {});
    await admin.end();
  }
  project.provide('templateDatabase', template);
}
