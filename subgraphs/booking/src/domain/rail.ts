// Indian Railways facts booking owns: coach layouts, berth types and fares (the seed reads them too).
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

/** Fares: paise per km and a minimum per class (server-side only; never from the client). */
export const FARE_RULES: Record<TravelClassName, { perKmPaise: number; minimumPaise: number }> = {
  FIRST_AC: { perKmPaise: 420, minimumPaise: 150_000 },
  SECOND_AC: { perKmPaise: 250, minimumPaise: 90_000 },
  THIRD_AC: { perKmPaise: 180, minimumPaise: 60_000 },
  SLEEPER: { perKmPaise: 70, minimumPaise: 24_000 },
  CHAIR_CAR: { perKmPaise: 150, minimumPaise: 38_000 },
  EXEC_CHAIR: { perKmPaise: 300, minimumPaise: 80_000 },
  SECOND_SEATING: { perKmPaise: 40, minimumPaise: 10_000 },
};

export function farePaise(cls: TravelClassName, distanceKm: number): number {
  const rule = FARE_RULES[cls];
  // Round to whole rupees as tickets are priced.
  return Math.max(rule.minimumPaise, Math.round((rule.perKmPaise * distanceKm) / 100) * 100);
}
