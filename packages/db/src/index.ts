import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

// PrismaClient, Prisma, the enums and one type per model.
export * from './generated/prisma/client.ts';
export * from './pages.ts';

export interface DbOptions {
  /** Pool size per process; the reservation path needs a few connections per core. */
  max?: number;
  applicationName?: string;
  /** How long a query waits for a pooled connection before failing (then mapped to TRY_AGAIN). */
  connectTimeoutMs?: number;
}

/** One PrismaClient per process, through the pg driver adapter (no Rust engine). */
export function createPrisma(databaseUrl: string, opts: DbOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  });
  return new PrismaClient({ adapter });
}

/** A client whose database answered; fails with one clear line (and no open pool) otherwise. */
export async function connectPrisma(databaseUrl: string, opts: DbOptions = {}): Promise<PrismaClient> {
  const prisma = createPrisma(databaseUrl, opts);
  try {
    await checkDatabase(prisma);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  return prisma;
}

/** Fails with one clear line when the database cannot be reached. */
export async function checkDatabase(prisma: PrismaClient): Promise<void> {
  try {
    await prisma.$queryRaw`SELECT 1`;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n').filter(Boolean).pop() : String(err);
    throw new Error(`database unreachable: ${reason}`);
  }
}

export async function databaseReady(prisma: PrismaClient): Promise<boolean> {
  try {
    await prisma.$queryRaw`SELECT 1`;
    return true;
  } catch {
    return false;
  }
}
