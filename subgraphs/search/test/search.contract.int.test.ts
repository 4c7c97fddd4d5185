// The contract (contract.ts) against the PostgreSQL backend on the seeded data, and against
// Elasticsearch when ELASTICSEARCH_URL names one (indices built from the same data, own prefix).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createElasticsearchBackend,
  createElasticsearchClient,
  rebuildElasticsearch,
  searchClientOf,
} from '../src/backends/elasticsearch.ts';
import { indexNames } from '../src/backends/elasticsearchQueries.ts';
import { createPostgresBackend } from '../src/backends/postgres.ts';
import type { SearchBackend } from '../src/backends/types.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { CONTRACT, contractTests } from './contract.ts';

let db: TestDatabase;
let postgres: SearchBackend;

beforeAll(async () => {
  db = await createTestDatabase('search_contract');
  postgres = createPostgresBackend(db.prisma);
});
afterAll(async () => {
  await db?.drop();
});

it('has at least 40 cases', () => {
  expect(CONTRACT.length).toBeGreaterThanOrEqual(40);
});

describe('search contract: PostgreSQL (pg_trgm)', () => {
  contractTests(() => postgres);
});

const ES_URL = process.env.ELASTICSEARCH_URL;

describe.skipIf(!ES_URL)(
  ES_URL
    ? 'search contract: Elasticsearch'
    : 'search contract: Elasticsearch (skipped: ELASTICSEARCH_URL is not set, no Elasticsearch on this machine)',
  () => {
    const prefix = `test_${randomBytes(4).toString('hex')}.`;
    let elasticsearch: SearchBackend;
    let client: ReturnType<typeof createElasticsearchClient>;

    beforeAll(async () => {
      client = createElasticsearchClient(ES_URL!, 30_000);
      await rebuildElasticsearch(client, db.prisma, indexNames(prefix));
      elasticsearch = createElasticsearchBackend(searchClientOf(client), indexNames(prefix));
    });
    afterAll(async () => {
      await client?.indices
        .delete({ index: `${prefix}*`, ignore_unavailable: true, allow_no_indices: true })
        .catch(() => {});
      await client?.close();
    });

    contractTests(() => elasticsearch);
  },
);
