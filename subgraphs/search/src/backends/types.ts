// The one interface both search engines implement. Callers validate and normalize the query first
// (domain/text.ts), so a backend never sees raw user text and never throws for bad input.
import type { Highlight, NormalizedQuery } from '../domain/text.ts';

export interface StationResult {
  code: string;
  name: string;
  city: string;
  state: string;
  aliases: string[];
  score: number;
  highlights: Highlight[];
}

export interface TrainResult {
  number: string;
  name: string;
  type: string;
  score: number;
  highlights: Highlight[];
}

/** A slice of the ranked results: `offset` hits skipped, at most `size` returned. */
export interface Slice {
  offset: number;
  size: number;
}

export type BackendName = 'postgres' | 'elasticsearch';

export interface SearchBackend {
  readonly name: BackendName;
  searchStations(query: NormalizedQuery, slice: Slice): Promise<StationResult[]>;
  searchTrains(query: NormalizedQuery, slice: Slice): Promise<TrainResult[]>;
}

/** Which engine answered a request: the response extension `searchBackend`. */
export type ServedBy = BackendName | 'postgres-fallback';
