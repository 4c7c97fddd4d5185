// Relevance for the PostgreSQL backend: pg_trgm's similarity and word_similarity per field (from
// SQL) combined with exact-code, prefix and typo (edit distance) evidence computed here.
import { fold, highlightsIn, matchToken, wordsOf, type Highlight, type NormalizedQuery } from './text.ts';

export type FieldKind = 'code' | 'text';

export interface FieldEvidence {
  field: string;
  value: string;
  kind: FieldKind;
  /** How much a match in this field counts (name 1, alias 0.95, city 0.85 ...). */
  weight: number;
  /** pg_trgm similarity(query, value) and word_similarity(query, value), 0..1. */
  similarity: number;
  wordSimilarity: number;
}

export interface FieldScore {
  field: string;
  value: string;
  score: number;
  /** Whether this field alone is reason enough to return the document. */
  qualifies: boolean;
}

const TOKEN_WEIGHT = { exact: 1, prefix: 0.85, typo: 0.7 } as const;

export function scoreField(e: FieldEvidence, q: NormalizedQuery): FieldScore {
  let score = e.wordSimilarity + 0.5 * e.similarity;
  let qualifies = false;
  if (e.kind === 'code') {
    const code = e.value.toUpperCase();
    if (code === q.compact) {
      score += 10;
      qualifies = true;
    } else if (q.tokens.length > 1 && q.tokens.some((t) => t.toUpperCase() === code)) {
      // A code among other words ("NDLS~2 AND (x:y)" reads as ndls 2 and x y).
      score += 6;
      qualifies = true;
    } else if (q.tokens.length === 1 && code.startsWith(q.compact)) {
      // A number or code being typed: the more of it typed, the better.
      score += 3 + q.compact.length / code.length;
      qualifies = true;
    }
    return { field: e.field, value: e.value, score: score * e.weight, qualifies };
  }
  const folded = fold(e.value);
  const words = wordsOf(folded);
  const normalizedValue = words.map((w) => w.text).join(' ');
  if (normalizedValue === q.text) score += 5;
  else if (normalizedValue.startsWith(q.text)) score += 3;
  let matched = 0;
  let tokenScore = 0;
  for (const token of q.tokens) {
    const m = matchToken(token, words);
    if (!m) continue;
    matched++;
    tokenScore += m.kind === 'typo' ? TOKEN_WEIGHT.typo - 0.15 * (m.edits - 1) : TOKEN_WEIGHT[m.kind];
  }
  score += (2 * tokenScore) / q.tokens.length;
  if (matched === q.tokens.length) score += 1;
  qualifies = matched === q.tokens.length || (matched * 2 >= q.tokens.length && e.wordSimilarity >= 0.6);
  return { field: e.field, value: e.value, score: score * e.weight, qualifies };
}

export interface RankedDocument<T> {
  doc: T;
  score: number;
  best: FieldScore;
}

/**
 * The document's score is its best field's (plus a little per other matching field); documents no
 * field qualifies are dropped.
 */
export function rankDocument<T>(doc: T, evidence: FieldEvidence[], q: NormalizedQuery): RankedDocument<T> | null {
  let best: FieldScore | null = null;
  let qualifying = 0;
  for (const e of evidence) {
    const s = scoreField(e, q);
    if (!s.qualifies) continue;
    qualifying++;
    if (!best || s.score > best.score) best = s;
  }
  if (!best) return null;
  // More fields saying the same ("Madras" and "Madras Central") break ties between equal best fields.
  const corroboration = Math.min(0.3, 0.1 * (qualifying - 1));
  return { doc, score: Math.round((best.score + corroboration) * 10_000) / 10_000, best };
}

/**
 * Highlights for a hit: the field that matched best, plus the name when the match was elsewhere
 * (an alias or the city) and the name also contains the words as typed.
 */
export function hitHighlights(best: { field: string; value: string }, name: string, q: NormalizedQuery): Highlight[] {
  const own = highlightsIn(best.field, best.value, q.tokens);
  if (best.field === 'name') return own;
  // In the name only what is really there: a typo match there would be a different word.
  return [...own, ...highlightsIn('name', name, q.tokens, false)];
}
