// Prisma 7 CLI config: used for `prisma generate` only (see docs/prisma.md; migrations run
// through prisma/migrate.config.ts because Prisma 7's CLI needs a native engine we cannot fetch).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
