import { describe, expect, it } from 'vitest';
import { AppError } from '@tatkal/common';
import { editDistance, fold, highlightsIn, normalizeQuery, typoAllowance } from '../src/domain/text.ts';

const badInputOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError
      ? { code: err.code, message: err.message, field: err.extensions.field }
      : { code: 'not an AppError' };
  }
  return null;
};

describe('normalizeQuery', () => {
  it('folds case and accents and splits on anything but letters and digits', () => {
    expect(normalizeQuery('  Néw   DELHI ')).toEqual({
      text: 'new delhi',
      tokens: ['new', 'delhi'],
      compact: 'NEWDELHI',
    });
    expect(normalizeQuery('ndls')).toEqual({ text: 'ndls', tokens: ['ndls'], compact: 'NDLS' });
  });

  it('keeps Devanagari vowel signs and virama in their word (marks are not separators)', () => {
    expect(normalizeQuery('नई दिल्ली')).toMatchObject({ text: 'नई दिल्ली', tokens: ['नई', 'दिल्ली'] });
    expect(normalizeQuery('मुंबई, सेंट्रल').tokens).toEqual(['मुंबई', 'सेंट्रल']);
    // A mark alone is not a word.
    expect(badInputOf(() => normalizeQuery('\u093f'))).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('treats Lucene, regex and SQL syntax as plain separators', () => {
    expect(normalizeQuery('NDLS~2 AND (x:y)').tokens).toEqual(['ndls', '2', 'and', 'x', 'y']);
    expect(normalizeQuery("'; DROP TABLE search.station_docs; --").text).toBe('drop table search station docs');
    expect(normalizeQuery('mumbai*').text).toBe('mumbai');
  });

  it('refuses empty, symbol-only and over-long text with BAD_USER_INPUT on the query field', () => {
    expect(badInputOf(() => normalizeQuery('   '))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Type at least one character to search',
      field: 'query',
    });
    expect(badInputOf(() => normalizeQuery('*'))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Search text needs at least one letter or digit',
      field: 'query',
    });
    expect(badInputOf(() => normalizeQuery('\\'))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Search text needs at least one letter or digit',
      field: 'query',
    });
    expect(badInputOf(() => normalizeQuery('a'.repeat(201)))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Search text must be at most 200 characters',
      field: 'query',
    });
    expect(normalizeQuery('a'.repeat(200)).text).toHaveLength(200);
  });
});

describe('typo tolerance', () => {
  it('allows 0 edits up to 2 characters, 1 up to 5, 2 beyond (as fuzziness AUTO)', () => {
    expect([1, 2, 3, 5, 6, 12].map(typoAllowance)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('counts insertions, deletions, substitutions and transpositions as one edit each', () => {
    expect(editDistance('mumbi', 'mumbai')).toBe(1);
    expect(editDistance('kolkatta', 'kolkata')).toBe(1);
    expect(editDistance('chenai', 'chennai')).toBe(1);
    expect(editDistance('banglore', 'bangalore')).toBe(1);
    expect(editDistance('pnue', 'pune')).toBe(1);
    expect(editDistance('hydrabad', 'hyderabad')).toBe(1);
    expect(editDistance('delhi', 'mumbai', 2)).toBe(3);
  });
});

describe('highlights', () => {
  it('gives offsets of the matched words in the value as returned', () => {
    expect(highlightsIn('name', 'New Delhi', ['new', 'del'])).toEqual([
      { field: 'name', value: 'New Delhi', start: 0, length: 3 },
      { field: 'name', value: 'New Delhi', start: 4, length: 3 },
    ]);
    expect(highlightsIn('alias', 'Bombay Central', ['bombay'])).toEqual([
      { field: 'alias', value: 'Bombay Central', start: 0, length: 6 },
    ]);
  });

  it('marks the whole word a typo matched, and nothing without typos allowed', () => {
    expect(highlightsIn('name', 'Chennai Central', ['chenai'])).toEqual([
      { field: 'name', value: 'Chennai Central', start: 0, length: 7 },
    ]);
    expect(highlightsIn('name', 'Vadodara Junction', ['baroda'], false)).toEqual([]);
  });

  it('keeps offsets right for accented text', () => {
    expect(fold('Éluru')).toBe('eluru');
    expect(highlightsIn('name', 'Bhopal Éluru', ['eluru'])).toEqual([
      { field: 'name', value: 'Bhopal Éluru', start: 7, length: 5 },
    ]);
  });
});
