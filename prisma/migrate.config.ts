// Prisma 6.19 CLI config for migrations: runs Prisma's WebAssembly schema engine through the
// pg driver adapter, so no native engine is downloaded (docs/prisma.md).
import { defineConfig } from 'prisma6/config';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';

// prisma/orm#27403: adapter-pg cannot read the catalog types "char" (18) and name (19) that the
// schema engine introspects; report them as text (25).
class CatalogSafeClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: one override for all of pg's query overloads, whose results differ.
  override query(...args: unknown[]): any {
    const asText = (res: pg.QueryResult | undefined) => {
      for (const field of res?.fields ?? []) {
        if (field.dataTypeID === 18 || field.dataTypeID === 19) field.dataTypeID = 25;
      }
      return res;
    };
    // pg.Pool calls query(text, values, callback); others use the promise form.
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: Error | null, res: pg.QueryResult) => callback(err, asText(res));
    }
    const result = (super.query as (...a: unknown[]) => Promise<pg.QueryResult> | undefined)(...args);
    return result && typeof result.then === 'function' ? result.then(asText) : result;
  }
}

/**
 * DATABASE_URL as pg itself reads it (pg-connection-string, the parser pg.Client uses): host, port,
 * database, user, password, and the query string too (sslmode, sslrootcert, sslcert, sslkey,
 * application_name, options, ...), so migrations reach a PostgreSQL that requires TLS exactly as
 * the services do. Separate fields, not a connectionString: see the adapter below.
 */
export function connection(raw = process.env.DATABASE_URL): pg.ClientConfig {
  if (!raw) throw new Error('DATABASE_URL is not set');
  const config = parseIntoClientConfig(raw);
  return { ...config, port: config.port ?? 5432 };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: '.migrate/schema.prisma',
  migrations: { path: 'migrations' },
  // Separate fields, not connectionString: with a connection string the shadow database pool
  // connects to the main database (P3006). idleTimeoutMillis 1 lets the shadow database drop.
  adapter: async () => new PrismaPg({ ...connection(), idleTimeoutMillis: 1, Client: CatalogSafeClient }),
});
