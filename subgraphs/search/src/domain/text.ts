// Query text rules and the text functions both backends share: folding, typo allowance, highlights.
import { badInput } from '@tatkal/common';

export const MAX_QUERY_LENGTH = 200;

/** Lower-case and strip diacritics one character at a time, so offsets in the result are offsets in the input. */
export function fold(text: string): string {
  // Most names are ASCII: lower-casing is all folding does to them.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, control characters included.
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase();
  let out = '';
  for (const ch of text) {
    const base = ch
      .normalize('NFD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase();
    // Keep the length in UTF-16 units: a character that folds to more or fewer units stays as it was.
    out += base.length === ch.length ? base : ch;
  }
  return out;
}

export interface NormalizedQuery {
  /** Folded words joined by one space: what the backends match. */
  text: string;
  tokens: string[];
  /** The query as a station code or train number would be written (upper case, no spaces). */
  compact: string;
}

/**
 * The query is plain text: letters and digits count, everything else (operators of Lucene or
 * SQL, quotes, wildcards) separates words and means nothing. Empty, longer than 200 characters or
 * without a letter or digit: BAD_USER_INPUT (docs/api.md, "Search").
 */
export function normalizeQuery(raw: string, field = 'query'): NormalizedQuery {
  const trimmed = raw.trim();
  if (!trimmed) throw badInput('Type at least one character to search', field);
  if (trimmed.length > MAX_QUERY_LENGTH)
    throw badInput(`Search text must be at most ${MAX_QUERY_LENGTH} characters`, field);
  // Marks belong to their word: Devanagari's vowel signs and virama (दिल्ली) are \p{M}, not letters.
  const tokens = fold(trimmed)
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((word) => /[\p{L}\p{N}]/u.test(word));
  if (tokens.length === 0) throw badInput('Search text needs at least one letter or digit', field);
  const text = tokens.join(' ');
  return { text, tokens, compact: tokens.join('').toUpperCase() };
}

/**
 * Edits a word of this length may have and still match: 0 up to 2 characters, 1 up to 5, else 2
 * (as Elasticsearch's AUTO).
 */
export function typoAllowance(length: number): number {
  return length <= 2 ? 0 : length <= 5 ? 1 : 2;
}

// Three reused rows: the distance is computed for many words per request.
let rowA = new Uint16Array(64);
let rowB = new Uint16Array(64);
let rowC = new Uint16Array(64);

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions), stopping early past `max`. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (b.length + 1 > rowA.length) {
    rowA = new Uint16Array(b.length + 1);
    rowB = new Uint16Array(b.length + 1);
    rowC = new Uint16Array(b.length + 1);
  }
  // prev2 = row i-2, prev = row i-1, cur = row i.
  let prev2 = rowA;
  let prev = rowB;
  let cur = rowC;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1))
        d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    const spare = prev2;
    prev2 = prev;
    prev = cur;
    cur = spare;
  }
  return prev[b.length]!;
}

export interface Word {
  text: string;
  start: number;
}

const wordCache = new Map<string, Word[]>();
const WORD_CACHE_SIZE = 20_000;

/** The words of a folded value with their offsets (cached: the same names are ranked again and again). */
export function wordsOf(folded: string): Word[] {
  const cached = wordCache.get(folded);
  if (cached) return cached;
  const words: Word[] = [];
  for (const m of folded.matchAll(/[\p{L}\p{M}\p{N}]+/gu)) words.push({ text: m[0], start: m.index });
  if (wordCache.size >= WORD_CACHE_SIZE) wordCache.clear();
  wordCache.set(folded, words);
  return words;
}

export type TokenMatchKind = 'exact' | 'prefix' | 'typo';

export interface TokenMatch {
  kind: TokenMatchKind;
  /** Offset and length in the value. */
  start: number;
  length: number;
  edits: number;
}

/**
 * How one query word matches a value: a whole word, the beginning of a word (typing in progress),
 * or a word within the typo allowance that starts with the same letter (also as the beginning of
 * a longer word: "banglor").
 */
export function matchToken(token: string, words: Word[], allowTypos = true): TokenMatch | null {
  let best: TokenMatch | null = null;
  const rank = (m: TokenMatch) => (m.kind === 'exact' ? 0 : m.kind === 'prefix' ? 1 : 2 + m.edits);
  const consider = (m: TokenMatch) => {
    if (!best || rank(m) < rank(best)) best = m;
  };
  const allowance = allowTypos ? typoAllowance(token.length) : 0;
  for (const w of words) {
    if (w.text === token) consider({ kind: 'exact', start: w.start, length: w.text.length, edits: 0 });
    else if (w.text.startsWith(token)) consider({ kind: 'prefix', start: w.start, length: token.length, edits: 0 });
    // Typos are looked for only in words with the same first letter (as prefix_length 1 in Elasticsearch).
    else if (allowance > 0 && w.text.charCodeAt(0) === token.charCodeAt(0)) {
      const whole = editDistance(token, w.text, allowance);
      if (whole <= allowance) consider({ kind: 'typo', start: w.start, length: w.text.length, edits: whole });
      else if (w.text.length > token.length) {
        // A misspelt beginning: compare with the word's prefix of about the same length.
        for (const len of [token.length - 1, token.length, token.length + 1]) {
          if (len < 3 || len > w.text.length) continue;
          const d = editDistance(token, w.text.slice(0, len), allowance);
          if (d <= allowance) consider({ kind: 'typo', start: w.start, length: len, edits: d });
        }
      }
    }
  }
  return best;
}

export interface Highlight {
  field: string;
  value: string;
  start: number;
  length: number;
}

/** Highlights of the query words in one value (offsets in `value` as returned). */
export function highlightsIn(field: string, value: string, tokens: string[], allowTypos = true): Highlight[] {
  const words = wordsOf(fold(value));
  const spans: { start: number; length: number }[] = [];
  for (const token of tokens) {
    const m = matchToken(token, words, allowTypos);
    if (m) spans.push({ start: m.start, length: m.length });
  }
  spans.sort((a, b) => a.start - b.start || b.length - a.length);
  const merged: { start: number; length: number }[] = [];
  for (const s of spans) {
    const last = merged.at(-1);
    if (last && s.start <= last.start + last.length)
      last.length = Math.max(last.length, s.start + s.length - last.start);
    else merged.push({ ...s });
  }
  return merged.map((s) => ({ field, value, ...s }));
}
