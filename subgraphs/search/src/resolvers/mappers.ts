// Parents of the resolvers that are no domain type as such (see `mappers` in schema-checks/resolvers.ts).
import type { StationResult, TrainResult } from '../backends/types.ts';
import type { TrainConnection } from '../domain/trainsBetween.ts';

/** A station: its code (the key), and its aliases when whoever made it knew them already. */
export interface StationRef {
  code: string;
  aliases?: string[];
}

/** A hit with the cursor of its position in the ranked list. */
export type StationHitParent = StationResult & { cursor: string };
export type TrainHitParent = TrainResult & { cursor: string };
export type TrainBetweenParent = TrainConnection & { cursor: string };
