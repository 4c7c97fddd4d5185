import assert from 'node:assert';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common';
import type { estypes } from '@elastic/elasticsearch';
import type { SearchContext } from '../src/context.ts';
import { createElasticsearchBackend, type EsSearchClient } from '../src/backends/elasticsearch.ts';
import { createPostgresBackend } from '../src/backends/postgres.ts';
import { createResilientSearch, type ResilientSearch } from '../src/backends/resilient.ts';
import { reindex } from '../src/reindex.ts';
import { buildSearchServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { countingPrisma } from '../../../test/support/queryCount.ts';

let db: TestDatabase;
let search: ResilientSearch;
const { server } = buildSearchServer({ logger: testLogger, production: false });
const ctx = (engine: ResilientSearch = search): SearchContext => ({
  prisma: db.prisma,
  search: engine,
  served: { backend: null },
  identity: null,
  requestId: 't',
  log: testLogger,
});
const SEARCH = `query($q: String!) { searchStations(query: $q, limit: 5) { score station { code aliases } } }`;
const STATIONS = `query($q: String!, $first: Int, $after: String) {
  searchStations(query: $q, first: $first, after: $after) {
    name city station { code } highlights { field value start length } cursor
  }
}`;
const TRAINS = `query($q: String!, $first: Int, $after: String) {
  searchTrains(query: $q, first: $first, after: $after) {
    number name type train { number } highlights { field start length } cursor
  }
}`;
const BETWEEN = `query($from: String!, $to: String!, $date: Date!, $class: String, $first: Int, $after: String) {
  trainsBetween(from: $from, to: $to, date: $date, class: $class, first: $first, after: $after) {
    number departure arrival arrivalDate originDate durationMinutes distanceKm classes
    from { code } to { code } train { number } run { trainNumber date } cursor
  }
}`;

/** Like test/support's execute, keeping the response extensions (searchBackend). */
async function run(query: string, variables: Record<string, unknown>, contextValue: SearchContext) {
  // biome-ignore lint/suspicious/noExplicitAny: the tests read many queries' answers by path, untyped.
  const res = await server.executeOperation<Record<string, any>>({ query, variables }, { contextValue });
  assert(res.body.kind === 'single');
  return res.body.singleResult;
}

const codesOf = (res: Awaited<ReturnType<typeof run>>) => (res.errors ?? []).map((e) => e.extensions?.code);

const stationCount = async () => db.prisma.stationDoc.count();

beforeAll(async () => {
  db = await createTestDatabase('search');
  search = createResilientSearch({
    primary: null,
    fallback: createPostgresBackend(db.prisma),
    logger: testLogger,
    breaker: { timeoutMs: 100, resetTimeoutMs: 1_000 },
  });
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await db?.drop();
});

describe('searchStations (PostgreSQL trigram backend)', () => {
  it('puts an exact station code first and says which engine answered', async () => {
    const res = await run(SEARCH, { q: 'ndls' }, ctx());
    expect(res.errors).toBeUndefined();
    expect(res.data!.searchStations[0].station.code).toBe('NDLS');
    expect(res.extensions).toEqual({ searchBackend: 'postgres' });
  });

  it('finds a city by a typo and by its old name', async () => {
    const typo = await run(SEARCH, { q: 'mumbi' }, ctx());
    const codes = typo.data!.searchStations.map((h: { station: { code: string } }) => h.station.code);
    expect(['CSMT', 'MMCT', 'LTT', 'BDTS', 'DR', 'DDR', 'BVI']).toContain(codes[0]);
    const old = await run(SEARCH, { q: 'madras' }, ctx());
    expect(old.data!.searchStations.map((h: { station: { code: string } }) => h.station.code)).toContain('MAS');
  });

  it('returns highlights as offsets into the name or the alias that matched', async () => {
    const res = await run(STATIONS, { q: 'new del', first: 1 }, ctx());
    expect(res.data!.searchStations[0]).toMatchObject({
      name: 'New Delhi',
      city: 'New Delhi',
      station: { code: 'NDLS' },
      highlights: [
        { field: 'name', value: 'New Delhi', start: 0, length: 3 },
        { field: 'name', value: 'New Delhi', start: 4, length: 3 },
      ],
    });
    const gurgaon = await run(STATIONS, { q: 'gurgaon', first: 1 }, ctx());
    expect(gurgaon.data!.searchStations[0]).toMatchObject({
      name: 'Gurugram',
      highlights: [{ field: 'alias', value: 'Gurgaon', start: 0, length: 7 }],
    });
  });

  it('pages with first/after without repeating or skipping a hit; limit still works', async () => {
    const all = await run(STATIONS, { q: 'bombay', first: 7 }, ctx());
    const codes = all.data!.searchStations.map((h: { station: { code: string } }) => h.station.code);
    expect(codes).toHaveLength(7);
    const first = await run(STATIONS, { q: 'bombay', first: 3 }, ctx());
    const second = await run(STATIONS, { q: 'bombay', first: 3, after: first.data!.searchStations[2].cursor }, ctx());
    const paged = [...first.data!.searchStations, ...second.data!.searchStations].map(
      (h: { station: { code: string } }) => h.station.code,
    );
    expect(paged).toEqual(codes.slice(0, 6));
    const limited = await run(SEARCH, { q: 'bombay' }, ctx());
    expect(limited.data!.searchStations).toHaveLength(5);
  });

  it('refuses a cursor from another search and page sizes out of range', async () => {
    const other = await run(STATIONS, { q: 'delhi', first: 1 }, ctx());
    const res = await run(STATIONS, { q: 'bombay', first: 3, after: other.data!.searchStations[0].cursor }, ctx());
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions!.field).toBe('after');
    expect(codesOf(await run(STATIONS, { q: 'bombay', first: 51 }, ctx()))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await run(`{ searchStations(query: "x", limit: 0) { score } }`, {}, ctx()))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });

  it('bad input: BAD_USER_INPUT or plain-text results, never an internal error, and nothing changes', async () => {
    const before = await stationCount();
    for (const q of ['', '   ', '*', '\\', '~!@#$%^&*()', '%_%', 'x'.repeat(201)]) {
      const res = await run(SEARCH, { q }, ctx());
      expect({ q, codes: codesOf(res) }).toEqual({ q, codes: ['BAD_USER_INPUT'] });
      expect(res.errors![0]!.extensions!.field).toBe('query');
    }
    for (const q of [
      'NDLS~2 AND (x:y)',
      "'; DROP TABLE search.station_docs; --",
      "' OR 1=1 --",
      'name:mumbai^10',
      '100% delhi_',
      'x'.repeat(200),
    ]) {
      const res = await run(SEARCH, { q }, ctx());
      expect({ q, errors: res.errors }).toEqual({ q, errors: undefined });
      expect(Array.isArray(res.data!.searchStations)).toBe(true);
    }
    const lucene = await run(SEARCH, { q: 'NDLS~2 AND (x:y)' }, ctx());
    expect(lucene.data!.searchStations.map((h: { station: { code: string } }) => h.station.code)).toContain('NDLS');
    expect(await stationCount()).toBe(before);
  });

  it('resolves Station aliases by code through _entities', async () => {
    const res = await run(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Station { code aliases } } }`,
      // Aliases in a representation are not believed (a caller of _entities could send anything).
      {
        r: [
          { __typename: 'Station', code: 'MAS' },
          { __typename: 'Station', code: 'ZZZZ' },
          { __typename: 'Station', code: 'NDLS', aliases: ['Forged'] },
        ],
      },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities[0].code).toBe('MAS');
    expect(res.data!._entities[0].aliases.join(' ')).toMatch(/Madras/i);
    expect(res.data!._entities[1]).toBeNull();
    expect(res.data!._entities[2].aliases).not.toContain('Forged');
  });

  it('resolves 20 Station references with one query, in order, null for unknown codes', async () => {
    const docs = await db.prisma.stationDoc.findMany({
      select: { code: true, aliases: true },
      orderBy: { code: 'asc' },
      take: 15,
    });
    expect(docs).toHaveLength(15);
    const codes = [
      ...docs.slice(0, 6).map((d) => d.code),
      'ZZZZ',
      'mas',
      ...docs.slice(6).map((d) => d.code),
      "' OR 1=1 --",
      docs[2]!.code,
      'QQQ',
    ];
    expect(codes).toHaveLength(20);
    const counting = countingPrisma(db.url);
    try {
      let res: Awaited<ReturnType<typeof run>> | undefined;
      const sql = await counting.statementsDuring(async () => {
        res = await run(
          `query($r: [_Any!]!) { _entities(representations: $r) { ... on Station { code aliases } } }`,
          { r: codes.map((code) => ({ __typename: 'Station', code })) },
          { ...ctx(), prisma: counting.prisma },
        );
      });
      expect(res!.errors).toBeUndefined();
      const known = new Map(docs.map((d) => [d.code, { code: d.code, aliases: d.aliases }]));
      expect(res!.data!._entities).toEqual(codes.map((c) => known.get(c) ?? null));
      // Also 1 before the loader (Prisma batches findUnique calls made in one tick); this keeps it so.
      expect(sql).toHaveLength(1);
      // trainsBetween hands out stations by code alone: their aliases cost one query for the whole list.
      const later = addDays(todayInIndia(), 10);
      let between: Awaited<ReturnType<typeof run>> | undefined;
      const betweenSql = await counting.statementsDuring(async () => {
        between = await run(
          `query($d: Date!) {
            trainsBetween(from: "RTM", to: "NDLS", date: $d) { number from { code aliases } to { code aliases } }
          }`,

          { d: later },
          { ...ctx(), prisma: counting.prisma },
        );
      });
      expect(between!.errors).toBeUndefined();
      const trains = between!.data!.trainsBetween as {
        from: { code: string; aliases: string[] };
        to: { code: string };
      }[];
      expect(trains.length).toBeGreaterThan(1);
      const rtm = await db.prisma.stationDoc.findUniqueOrThrow({ where: { code: 'RTM' } });
      expect(
        trains.every(
          (t) =>
            t.from.code === 'RTM' &&
            t.to.code === 'NDLS' &&
            JSON.stringify(t.from.aliases) === JSON.stringify(rtm.aliases),
        ),
      ).toBe(true);
      // Known stations, train docs, then the aliases.
      expect(betweenSql).toHaveLength(3);
    } finally {
      await counting.disconnect();
    }
  });
});

describe('Elasticsearch down: PostgreSQL answers and the response says so', () => {
  it('falls back per request with extensions.searchBackend = postgres-fallback and the same hits', async () => {
    const down: EsSearchClient = {
      search: <T>(): Promise<estypes.SearchResponse<T>> =>
        Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9200')),
    };
    const degraded = createResilientSearch({
      primary: createElasticsearchBackend(down),
      fallback: createPostgresBackend(db.prisma),
      logger: testLogger,
      breaker: { timeoutMs: 200, resetTimeoutMs: 60_000 },
    });
    const viaFallback = await run(STATIONS, { q: 'calcutta', first: 5 }, ctx(degraded));
    const direct = await run(STATIONS, { q: 'calcutta', first: 5 }, ctx());
    expect(viaFallback.errors).toBeUndefined();
    expect(viaFallback.extensions).toEqual({ searchBackend: 'postgres-fallback' });
    expect(viaFallback.data).toEqual(direct.data);
    expect(degraded.stats().fallbacks.error).toBe(1);
    degraded.shutdown();
  });
});

describe('searchTrains', () => {
  it('finds trains by number prefix and by name, returning Train references', async () => {
    const byNumber = await run(TRAINS, { q: '1295', first: 4 }, ctx());
    expect(byNumber.data!.searchTrains.map((t: { number: string }) => t.number).sort()).toEqual([
      '12951',
      '12952',
      '12953',
      '12957',
    ]);
    expect(byNumber.data!.searchTrains[0].highlights).toEqual([{ field: 'number', start: 0, length: 4 }]);
    const byName = await run(TRAINS, { q: 'deccan queen', first: 2 }, ctx());
    expect(byName.data!.searchTrains).toEqual([
      expect.objectContaining({
        number: '12123',
        name: 'Deccan Queen',
        type: 'SUPERFAST',
        train: { number: '12123' },
        highlights: [
          { field: 'name', start: 0, length: 6 },
          { field: 'name', start: 7, length: 5 },
        ],
      }),
      expect.objectContaining({ number: '12124', name: 'Deccan Queen', train: { number: '12124' } }),
    ]);
    expect(byName.extensions).toEqual({ searchBackend: 'postgres' });
  });

  it('refuses an empty query', async () => {
    expect(codesOf(await run(TRAINS, { q: ' ' }, ctx()))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('trainsBetween', () => {
  const today = todayInIndia();
  const later = addDays(today, 5);

  it('lists trains calling at from then to on the date, earliest first, with times, distance and the run', async () => {
    const res = await run(BETWEEN, { from: 'mmct', to: 'NDLS', date: later }, ctx());
    expect(res.errors).toBeUndefined();
    const rajdhani = res.data!.trainsBetween.find((t: { number: string }) => t.number === '12951');
    expect(rajdhani).toEqual({
      number: '12951',
      departure: '17:00',
      arrival: '08:32',
      arrivalDate: addDays(later, 1),
      originDate: later,
      durationMinutes: 932,
      distanceKm: 1386,
      classes: ['1A', '2A', '3A'],
      from: { code: 'MMCT' },
      to: { code: 'NDLS' },
      train: { number: '12951' },
      run: { trainNumber: '12951', date: later },
      cursor: expect.any(String),
    });
    expect(res.data!.trainsBetween.map((t: { number: string }) => t.number)).not.toContain('12952');
  });

  it('refers to the run that left its origin the day before for a station reached on day 2', async () => {
    const res = await run(BETWEEN, { from: 'RTM', to: 'NDLS', date: later }, ctx());
    const rajdhani = res.data!.trainsBetween.find((t: { number: string }) => t.number === '12951');
    expect(rajdhani).toMatchObject({
      departure: '00:28',
      arrival: '08:32',
      originDate: addDays(later, -1),
      arrivalDate: later,
      run: { trainNumber: '12951', date: addDays(later, -1) },
    });
    const departures = res.data!.trainsBetween.map((t: { departure: string }) => t.departure);
    expect(departures).toEqual([...departures].sort());
  });

  it('filters by class code or name and pages', async () => {
    const sl = await run(BETWEEN, { from: 'MMCT', to: 'NDLS', date: later, class: 'SLEEPER' }, ctx());
    expect(sl.data!.trainsBetween.length).toBeGreaterThan(0);
    for (const t of sl.data!.trainsBetween) expect(t.classes).toContain('SL');
    const all = await run(BETWEEN, { from: 'RTM', to: 'NDLS', date: later }, ctx());
    const page1 = await run(BETWEEN, { from: 'RTM', to: 'NDLS', date: later, first: 1 }, ctx());
    const page2 = await run(
      BETWEEN,
      { from: 'RTM', to: 'NDLS', date: later, first: 10, after: page1.data!.trainsBetween[0].cursor },
      ctx(),
    );
    expect(
      [...page1.data!.trainsBetween, ...page2.data!.trainsBetween].map((t: { number: string }) => t.number),
    ).toEqual(all.data!.trainsBetween.map((t: { number: string }) => t.number));
  });

  it('no connecting train: an empty list; unknown stations, past dates, bad classes: BAD_USER_INPUT', async () => {
    const none = await run(BETWEEN, { from: 'NDLS', to: 'MMCT', date: later, class: 'EC' }, ctx());
    expect(none).toEqual({ data: { trainsBetween: [] } });
    const cases: [Record<string, unknown>, string][] = [
      [{ from: 'XXXX', to: 'NDLS', date: later }, 'from'],
      [{ from: 'MMCT', to: 'QQQ', date: later }, 'to'],
      [{ from: 'MMCT', to: 'NDLS', date: addDays(today, -1) }, 'date'],
      [{ from: 'MMCT', to: 'MMCT', date: later }, 'to'],
      [{ from: 'MMCT', to: 'NDLS', date: later, class: 'FIRST' }, 'class'],
      [{ from: "MMCT' OR 1=1", to: 'NDLS', date: later }, 'from'],
    ];
    for (const [vars, field] of cases) {
      const res = await run(BETWEEN, vars, ctx());
      expect({ vars, codes: codesOf(res), field: res.errors?.[0]?.extensions?.field }).toEqual({
        vars,
        codes: ['BAD_USER_INPUT'],
        field,
      });
    }
    expect(codesOf(await run(BETWEEN, { from: 'MMCT', to: 'NDLS', date: '2026-02-30' }, ctx()))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});

describe('search:reindex (PostgreSQL projection)', () => {
  it('recomputes a stale search_text from the document columns and leaves correct rows alone', async () => {
    await db.prisma.stationDoc.update({ where: { code: 'GGN' }, data: { searchText: 'stale' } });
    const stale = await run(SEARCH, { q: 'gurgaon' }, ctx());
    expect(stale.data!.searchStations.map((h: { station: { code: string } }) => h.station.code)).not.toContain('GGN');
    const outcome = await reindex(db.prisma);
    expect(outcome).toEqual({ stationTextsChanged: 1, trainTextsChanged: 0, elasticsearch: null });
    expect((await db.prisma.stationDoc.findUnique({ where: { code: 'GGN' } }))!.searchText).toBe(
      // The seed's aliases: the Devanagari name first (docs/api.md, Search), then the old name.
      'gurugram gurugram ggn गुरुग्राम gurgaon',
    );
    const fresh = await run(SEARCH, { q: 'gurgaon' }, ctx());
    expect(fresh.data!.searchStations[0].station.code).toBe('GGN');
    expect(await reindex(db.prisma)).toEqual({ stationTextsChanged: 0, trainTextsChanged: 0, elasticsearch: null });
  });
});
