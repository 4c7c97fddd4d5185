import { describe, expect, it } from 'vitest';
import {
  aliasSwitchActions,
  bulkOperations,
  CITY_SYNONYMS,
  indexNames,
  nextVersionedIndex,
  stationIndexBody,
  stationSearchRequest,
  trainIndexBody,
  trainSearchRequest,
} from '../src/backends/elasticsearchQueries.ts';
import { normalizeQuery } from '../src/domain/text.ts';

describe('Elasticsearch index layout', () => {
  it('names versioned indices after the highest existing version', () => {
    expect(nextVersionedIndex('stations', [])).toBe('stations_v1');
    expect(nextVersionedIndex('stations', ['stations_v1', 'stations_v3', 'stations_v2'])).toBe('stations_v4');
    expect(nextVersionedIndex('t1.stations', ['t1.stations_v9', 'stations_v20', 't1.stations_vx'])).toBe(
      't1.stations_v10',
    );
    expect(indexNames('t1.')).toEqual({ stations: 't1.stations', trains: 't1.trains' });
  });

  it('switches the alias atomically: every old index removed and the new one added in one call', () => {
    expect(aliasSwitchActions('stations', ['stations_v1', 'stations_v2'], 'stations_v3')).toEqual([
      { remove: { index: 'stations_v1', alias: 'stations' } },
      { remove: { index: 'stations_v2', alias: 'stations' } },
      { add: { index: 'stations_v3', alias: 'stations', is_write_index: true } },
    ]);
    expect(aliasSwitchActions('stations', [], 'stations_v1')).toEqual([
      { add: { index: 'stations_v1', alias: 'stations', is_write_index: true } },
    ]);
  });

  it('maps stations with an edge-n-gram prefix analyzer, folding, and a city synonym filter', () => {
    const body = stationIndexBody();
    expect(body.settings.analysis?.filter?.edge_grams).toEqual({ type: 'edge_ngram', min_gram: 1, max_gram: 20 });
    expect(body.settings.analysis?.filter?.city_synonyms).toEqual({
      type: 'synonym_graph',
      synonyms: CITY_SYNONYMS,
      lenient: true,
    });
    expect(CITY_SYNONYMS).toEqual(
      expect.arrayContaining([
        'bombay, mumbai',
        'madras, chennai',
        'calcutta, kolkata',
        'gurgaon, gurugram',
        'poona, pune',
        'baroda, vadodara',
      ]),
    );
    expect(body.settings.analysis?.analyzer?.prefix_index).toEqual({
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'decimal_digit', 'indic_normalization', 'asciifolding', 'edge_grams'],
    });
    // Hindi station names: Devanagari digits and spellings folded on both sides of the match.
    expect(body.settings.analysis?.analyzer?.folded).toMatchObject({
      filter: ['lowercase', 'decimal_digit', 'indic_normalization', 'asciifolding'],
    });
    expect(body.mappings.dynamic).toBe('strict');
    expect(body.mappings.properties?.name).toEqual({
      type: 'text',
      analyzer: 'folded',
      fields: { prefix: { type: 'text', analyzer: 'prefix_index', search_analyzer: 'folded' } },
    });
    expect(body.mappings.properties?.code).toMatchObject({ type: 'keyword', normalizer: 'code' });
    expect(Object.keys(trainIndexBody().mappings.properties ?? {})).toEqual(['number', 'name', 'type']);
  });

  it('bulk body alternates the index action and the document', () => {
    expect(bulkOperations('stations_v2', [{ code: 'NDLS' }, { code: 'MAS' }], (d) => d.code)).toEqual([
      { index: { _index: 'stations_v2', _id: 'NDLS' } },
      { code: 'NDLS' },
      { index: { _index: 'stations_v2', _id: 'MAS' } },
      { code: 'MAS' },
    ]);
  });
});

describe('Elasticsearch queries', () => {
  it('station query: exact code boosted first, fuzzy multi_match, synonyms, prefixes; paged', () => {
    const req = stationSearchRequest('stations', normalizeQuery('New Del'), { offset: 10, size: 5 });
    expect(req).toMatchObject({ index: 'stations', from: 10, size: 5, track_total_hits: false });
    expect(req.query).toEqual({
      bool: {
        should: [
          { term: { code: { value: 'NEWDEL', boost: 50 } } },
          {
            multi_match: {
              query: 'new del',
              type: 'best_fields',
              fields: ['name^3', 'aliases^2.5', 'city^2'],
              fuzziness: 'AUTO',
              prefix_length: 1,
              operator: 'and',
            },
          },
          {
            multi_match: {
              query: 'new del',
              type: 'best_fields',
              fields: ['name^3', 'aliases^2.5', 'city^2'],
              analyzer: 'folded_synonyms',
              operator: 'and',
              boost: 1.2,
            },
          },
          {
            multi_match: {
              query: 'new del',
              type: 'best_fields',
              fields: ['name.prefix^2', 'aliases.prefix^1.5', 'city.prefix', 'code.prefix^2'],
              operator: 'and',
              boost: 1.5,
            },
          },
        ],
        minimum_should_match: 1,
      },
    });
  });

  it('never passes the user text to a query-string parser', () => {
    const json = JSON.stringify(
      stationSearchRequest('stations', normalizeQuery('NDLS~2 AND (x:y)'), { offset: 0, size: 10 }),
    );
    expect(json).not.toContain('query_string');
    expect(json).not.toContain('~');
    expect(json).not.toContain('(');
  });

  it('train query adds a number prefix only for digits', () => {
    const digits = trainSearchRequest('trains', normalizeQuery('1295'), { offset: 0, size: 10 });
    expect(JSON.stringify(digits.query)).toContain('"prefix":{"number":{"value":"1295","boost":10}}');
    const words = trainSearchRequest('trains', normalizeQuery('deccan queen'), { offset: 0, size: 10 });
    expect(JSON.stringify(words.query)).not.toContain('"prefix"');
    expect(JSON.stringify(words.query)).toContain('"fuzziness":"AUTO"');
  });
});
