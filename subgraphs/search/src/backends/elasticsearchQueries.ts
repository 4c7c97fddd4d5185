// Pure builders for the Elasticsearch side: index settings and mappings, queries, bulk bodies and
// the alias switch. No client here, so all of it is unit-tested without a server.
import type { estypes } from '@elastic/elasticsearch';
import type { NormalizedQuery } from '../domain/text.ts';
import type { Slice } from './types.ts';

/**
 * Old and new city names searched as one (query side). Station aliases are indexed per station
 * as well; this list lets "bombay" also reach a station whose aliases do not say so.
 */
export const CITY_SYNONYMS = [
  'bombay, mumbai',
  'madras, chennai',
  'calcutta, kolkata',
  'bangalore, bengaluru',
  'gurgaon, gurugram',
  'poona, pune',
  'baroda, vadodara',
  'mysore, mysuru',
  'mangalore, mangaluru',
  'trivandrum, thiruvananthapuram',
  'benares, banaras, varanasi',
  'allahabad, prayagraj',
  'cochin, kochi',
  'calicut, kozhikode',
  'gauhati, guwahati',
  'vizag, visakhapatnam',
  'simla, shimla',
];

export interface IndexNames {
  /** What queries read and the reindex switches: `stations`, `trains` (with a prefix in tests). */
  stations: string;
  trains: string;
}

export const indexNames = (prefix = ''): IndexNames => ({ stations: `${prefix}stations`, trains: `${prefix}trains` });

/** `stations_v1`, `stations_v2` ...: the next version after every one that exists. */
export function nextVersionedIndex(alias: string, existing: string[]): string {
  const pattern = new RegExp(`^${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_v(\\d+)$`);
  const versions = existing
    .map((name) => pattern.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return `${alias}_v${versions.length ? Math.max(...versions) + 1 : 1}`;
}

/** One atomic `_aliases` call: the alias leaves every old index and points at the new one. */
export function aliasSwitchActions(
  alias: string,
  oldIndices: string[],
  newIndex: string,
): estypes.IndicesUpdateAliasesAction[] {
  return [
    ...oldIndices.filter((i) => i !== newIndex).map((index) => ({ remove: { index, alias } })),
    { add: { index: newIndex, alias, is_write_index: true } },
  ];
}

/**
 * Folding of every text field: lower case, Devanagari digits as ASCII, one Unicode spelling of
 * Indic letters (nukta, chandrabindu: indic_normalization), Latin accents off. The standard
 * tokenizer keeps Devanagari vowel signs in their word (नई दिल्ली: two words).
 */
export const FOLDING = ['lowercase', 'decimal_digit', 'indic_normalization', 'asciifolding'];

const analysis: estypes.IndicesIndexSettingsAnalysis = {
  filter: {
    edge_grams: { type: 'edge_ngram', min_gram: 1, max_gram: 20 },
    city_synonyms: { type: 'synonym_graph', synonyms: CITY_SYNONYMS, lenient: true },
  },
  analyzer: {
    folded: { type: 'custom', tokenizer: 'standard', filter: FOLDING },
    folded_synonyms: { type: 'custom', tokenizer: 'standard', filter: [...FOLDING, 'city_synonyms'] },
    // Index side of prefix-as-you-type: "secunderabad" is stored as s, se, sec, ... (दि, दिल, ...)
    prefix_index: { type: 'custom', tokenizer: 'standard', filter: [...FOLDING, 'edge_grams'] },
  },
  normalizer: {
    code: { type: 'custom', filter: ['lowercase', 'asciifolding'] },
  },
};

const textWithPrefix: estypes.MappingProperty = {
  type: 'text',
  analyzer: 'folded',
  fields: { prefix: { type: 'text', analyzer: 'prefix_index', search_analyzer: 'folded' } },
};

const settings: estypes.IndicesIndexSettings = { number_of_shards: 1, number_of_replicas: 0, analysis };

export function stationIndexBody(): { settings: estypes.IndicesIndexSettings; mappings: estypes.MappingTypeMapping } {
  return {
    settings,
    mappings: {
      dynamic: 'strict',
      properties: {
        code: {
          type: 'keyword',
          normalizer: 'code',
          fields: { prefix: { type: 'text', analyzer: 'prefix_index', search_analyzer: 'folded' } },
        },
        name: textWithPrefix,
        city: textWithPrefix,
        aliases: textWithPrefix,
        state: { type: 'text', analyzer: 'folded' },
      },
    },
  };
}

export function trainIndexBody(): { settings: estypes.IndicesIndexSettings; mappings: estypes.MappingTypeMapping } {
  return {
    settings,
    mappings: {
      dynamic: 'strict',
      properties: {
        number: { type: 'keyword' },
        name: textWithPrefix,
        type: { type: 'keyword', fields: { text: { type: 'text', analyzer: 'folded' } } },
      },
    },
  };
}

export interface StationSource {
  code: string;
  name: string;
  city: string;
  state: string;
  aliases: string[];
}

export interface TrainSource {
  number: string;
  name: string;
  type: string;
}

/**
 * Exact code first (a large constant boost), then words anywhere with typos (`fuzziness: AUTO`),
 * old city names through the synonym analyzer, and prefixes of words being typed.
 */
export function stationSearchRequest(index: string, q: NormalizedQuery, slice: Slice): estypes.SearchRequest {
  return {
    index,
    from: slice.offset,
    size: slice.size,
    track_total_hits: false,
    query: {
      bool: {
        should: [
          { term: { code: { value: q.compact, boost: 50 } } },
          {
            multi_match: {
              query: q.text,
              type: 'best_fields',
              fields: ['name^3', 'aliases^2.5', 'city^2'],
              fuzziness: 'AUTO',
              prefix_length: 1,
              operator: 'and',
            },
          },
          {
            multi_match: {
              query: q.text,
              type: 'best_fields',
              fields: ['name^3', 'aliases^2.5', 'city^2'],
              analyzer: 'folded_synonyms',
              operator: 'and',
              boost: 1.2,
            },
          },
          {
            multi_match: {
              query: q.text,
              type: 'best_fields',
              fields: ['name.prefix^2', 'aliases.prefix^1.5', 'city.prefix', 'code.prefix^2'],
              operator: 'and',
              boost: 1.5,
            },
          },
        ],
        minimum_should_match: 1,
      },
    },
    sort: [{ _score: { order: 'desc' } }, { code: { order: 'asc' } }],
  };
}

export function trainSearchRequest(index: string, q: NormalizedQuery, slice: Slice): estypes.SearchRequest {
  const should: estypes.QueryDslQueryContainer[] = [
    { term: { number: { value: q.compact, boost: 50 } } },
    {
      multi_match: {
        query: q.text,
        type: 'best_fields',
        fields: ['name^3', 'type.text'],
        fuzziness: 'AUTO',
        prefix_length: 1,
        operator: 'and',
      },
    },
    { match: { 'name.prefix': { query: q.text, operator: 'and', boost: 1.5 } } },
  ];
  // Train numbers are typed digit by digit: "1295" finds 12951, 12952 ...
  if (/^\d+$/.test(q.compact)) should.push({ prefix: { number: { value: q.compact, boost: 10 } } });
  return {
    index,
    from: slice.offset,
    size: slice.size,
    track_total_hits: false,
    query: { bool: { should, minimum_should_match: 1 } },
    sort: [{ _score: { order: 'desc' } }, { number: { order: 'asc' } }],
  };
}

/** The `_bulk` body: an index action and the document, for each document. */
export function bulkOperations<T>(
  index: string,
  docs: T[],
  idOf: (doc: T) => string,
): (estypes.BulkOperationContainer | T)[] {
  const ops: (estypes.BulkOperationContainer | T)[] = [];
  for (const doc of docs) ops.push({ index: { _index: index, _id: idOf(doc) } }, doc);
  return ops;
}
