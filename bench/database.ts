// The benchmarks' database: created, migrated and seeded per run on the server of --pg, and the
// server's transaction counters.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { root } from '../packages/testkit/src/processes.ts';

/** Runs one statement on the server's admin database (create/drop the bench database, stats). */
export async function adminQuery(pgUrl: string, sql: string) {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Drops and re-creates `name`, applies the migrations, optionally seeds; returns its URL. */
export async function createBenchDatabase(
  pgUrl: string,
  name: string,
  opts: { seedRunDays?: number } = {},
): Promise<string> {
  await adminQuery(pgUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await adminQuery(pgUrl, `CREATE DATABASE "${name}"`);
  const url = databaseUrl(pgUrl, name);
  const env = { ...process.env, DATABASE_URL: url };
  const migrate = spawnSync(process.execPath, [join(root, 'scripts/prisma.mjs'), 'migrate-deploy'], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
  if (opts.seedRunDays) {
    const seed = spawnSync(join(root, 'node_modules/.bin/tsx'), ['prisma/seed/seed.ts'], {
      cwd: root,
      env: { ...env, SEED_RUN_DAYS: String(opts.seedRunDays) },
      encoding: 'utf8',
    });
    if (seed.status !== 0) throw new Error(`seed failed: ${seed.stderr}`);
  }
  return url;
}

/** The URL of database `name` on the server of `pgUrl`. */
export function databaseUrl(pgUrl: string, name: string): string {
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Committed + rolled-back transactions of one database so far (pg_stat_database; see settleStats). */
export async function databaseTransactions(pgUrl: string, name: string): Promise<number> {
  const r = await adminQuery(
    pgUrl,
    `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = '${name.replace(/'/g, "''")}'`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * PostgreSQL 15 backends report their counters at most once a second, and an idle backend
 * reports what is left only after 10 s: wait this long before reading pg_stat_database.
 */
export const STATS_SETTLE_MS = 11_000;
