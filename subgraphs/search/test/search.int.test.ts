import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchContext } from '../src/context.ts';
import { buildSearchServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';

let db: TestDatabase;
const { server } = buildSearchServer({ logger: testLogger, production: false });
const ctx = (): SearchContext => ({ prisma: db.prisma, identity: null, requestId: 't', log: testLogger });
const SEARCH = `query($q: String!) { searchStations(query: $q, limit: 5) { score station { code aliases } } }`;

beforeAll(async () => {
  db = await createTestDatabase('search');
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await db?.drop();
});

describe('searchStations (PostgreSQL trigram backend)', () => {
  it('puts an exact station code first', async () => {
    const res = await execute(server, SEARCH, { q: 'ndls' }, ctx());
    expect(res.errors).toBeUndefined();
    expect(res.data!.searchStations[0].station.code).toBe('NDLS');
  });

  it('finds a city by a typo and by its old name', async () => {
    const typo = await execute(server, SEARCH, { q: 'mumbi' }, ctx());
    expect(typo.data!.searchStations.length).toBeGreaterThan(0);
    const codes = typo.data!.searchStations.map((h: { station: { code: string } }) => h.station.code);
    expect(codes.some((c: string) => ['CSMT', 'MMCT', 'LTT', 'BDTS', 'DR'].includes(c))).toBe(true);
    const old = await execute(server, SEARCH, { q: 'madras' }, ctx());
    expect(old.data!.searchStations.map((h: { station: { code: string } }) => h.station.code)).toContain('MAS');
  });

  it('rejects an empty query with BAD_USER_INPUT', async () => {
    expect(errorCodes(await execute(server, SEARCH, { q: '   ' }, ctx()))).toEqual(['BAD_USER_INPUT']);
  });

  it('resolves Station aliases by code through _entities', async () => {
    const res = await execute(
      server,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Station { code aliases } } }`,
      { r: [{ __typename: 'Station', code: 'MAS' }, { __typename: 'Station', code: 'ZZZZ' }] },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities[0].code).toBe('MAS');
    expect(res.data!._entities[0].aliases.join(' ')).toMatch(/Madras/i);
    expect(res.data!._entities[1]).toBeNull();
  });
});
