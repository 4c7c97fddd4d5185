// The test projects, split by file suffix: *.test.ts (no services), *.int.test.ts (real
// PostgreSQL, Redis, RabbitMQ), *.e2e.test.ts (the supergraph over HTTP). vitest.config.ts reads
// this list: Vitest 4 no longer loads a workspace file by itself.
import type { TestProjectInlineConfiguration } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/generated/**'];

// Apollo's federation packages load graphql's CommonJS build; a plain `import 'graphql'` under
// Vite would load the ESM build, and two graphql realms break schema checks. One realm for all.
const resolve = { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] };

export const projects: TestProjectInlineConfiguration[] = [
  {
    resolve,
    test: {
      name: 'unit',
      include: ['**/*.test.ts'],
      exclude: [...exclude, '**/*.int.test.ts', '**/*.e2e.test.ts'],
      environment: 'node',
    },
  },
  {
    resolve,
    test: {
      name: 'integration',
      include: ['**/*.int.test.ts'],
      exclude,
      environment: 'node',
      // Builds a migrated, seeded template database once; each test file clones its own copy.
      globalSetup: ['./test/global-setup.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  },
  {
    resolve,
    test: {
      name: 'e2e',
      include: ['**/*.e2e.test.ts'],
      exclude,
      environment: 'node',
      globalSetup: ['./test/global-setup.ts'],
      testTimeout: 120_000,
      hookTimeout: 180_000,
      // Whole-supergraph tests start real processes: one file at a time keeps 2 cores usable.
      fileParallelism: false,
    },
  },
];

export default projects;
