// Indian Railways facts booking owns: coach layouts and berth types (the seed reads them too); fares are
// in fares/.
import type { TravelClassName } from '@tatkal/common';

export type BerthTypeName = 'LB' | 'MB' | 'UB' | 'SL' | 'SU' | 'WS' | 'MS' | 'AS';

interface CoachLayout {
  /** Coach code prefix as on the train: H1, A1, B1, S1, C1, E1, D1. */
  prefix: string;
  seats: number;
  /** Berth types repeating bay by bay (or row by row for chair cars). */
  pattern: BerthTypeName[];
}

/** LHB-style layouts: 1A cabins, 2A bays of 6, 3A/SL bays of 8, chair cars by row. */
export const COACH_LAYOUT: Record<TravelClassName, CoachLayout> = {
  FIRST_AC: { prefix: 'H', seats: 24, pattern: ['LB', 'UB'] },
  SECOND_AC: { prefix: 'A', seats: 48, pattern: ['LB', 'UB', 'LB', 'UB', 'SL', 'SU'] },
  THIRD_AC: { prefix: 'B', seats: 72, pattern: ['LB', 'MB', 'UB', 'LB', 'MB', 'UB', 'SL', 'SU'] },
  SLEEPER: { prefix: 'S', seats: 72, pattern: ['LB', 'MB', 'UB', 'LB', 'MB', 'UB', 'SL', 'SU'] },
  CHAIR_CAR: { prefix: 'C', seats: 78, pattern: ['WS', 'MS', 'AS', 'AS', 'WS'] },
  EXEC_CHAIR: { prefix: 'E', seats: 56, pattern: ['WS', 'AS', 'AS', 'WS'] },
  SECOND_SEATING: { prefix: 'D', seats: 108, pattern: ['WS', 'MS', 'AS', 'AS', 'MS', 'WS'] },
};

export function berthTypeOf(cls: TravelClassName, number: number): BerthTypeName {
  const { pattern } = COACH_LAYOUT[cls];
  return pattern[(number - 1) % pattern.length]!;
}
