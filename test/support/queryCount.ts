import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@tatkal/db';

export interface CountingPrisma {
  /** Use it like any client; every SQL statement it sends is recorded. */
  prisma: PrismaClient;
  /** The SQL statements sent while `fn` ran (use the client for nothing else meanwhile). */
  statementsDuring: (fn: () => Promise<unknown>) => Promise<string[]>;
  disconnect: () => Promise<void>;
}

/**
 * A second client on a test database that records each SQL statement it sends (Prisma's `query`
 * event, which with the pg driver adapter fires once per statement, an `include` included).
 */
export function countingPrisma(url: string): CountingPrisma {
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: url, max: 5 }),
    log: [{ emit: 'event', level: 'query' }],
  });
  let seen: string[] = [];
  prisma.$on('query', (e) => seen.push(e.query));
  return {
    prisma,
    statementsDuring: async (fn) => {
      seen = [];
      await fn();
      const got = seen;
      seen = [];
      return got;
    },
    disconnect: () => prisma.$disconnect(),
  };
}
