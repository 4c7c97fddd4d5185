import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPrisma, type PrismaClient } from '@tatkal/db';
import { databaseUrl, PG_ADMIN_URL } from './env.ts';
import { retrying } from './wait.ts';

export interface TestDatabase {
  name: string;
  url: string;
  prisma: PrismaClient;
  drop: () => Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A private copy of the migrated, seeded template database, dropped by `drop()`. */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const template = inject('templateDatabase');
  const name = `tatkal_test_${label.replace(/\W/g, '_').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template: retried.
  const busy = await retrying(
    `CREATE DATABASE ${name}`,
    async () => {
      try {
        await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
        return null;
      } catch (err) {
        if (!/being accessed by other users/.test((err as Error).message)) throw err;
        return err as Error;
      }
    },
    (err) => err !== null,
    { attempts: 21, backoffMs: () => 100 + Math.random() * 200 },
  );
  if (busy) throw busy;
  const url = databaseUrl(name);
  const prisma = createPrisma(url, { max: 20, applicationName: `test:${label}`, connectTimeoutMs: 120_000 });
  return {
    name,
    url,
    prisma,
    drop: async () => {
      await prisma.$disconnect();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
