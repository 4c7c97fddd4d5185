import { describe, expect, it } from 'vitest';
import { AppError } from '@tatkal/common';
import {
  classCodeOf,
  connectionOn,
  connectionsBetween,
  validateTrainsBetween,
  type TrainRoute,
} from '../src/domain/trainsBetween.ts';

// 2026-12-07 is a Monday (runsOn 0).
const overnight: TrainRoute = {
  number: '12951',
  name: 'Mumbai Central - New Delhi Rajdhani Express',
  type: 'RAJDHANI',
  runsOn: [0],
  classes: ['1A', '2A', '3A'],
  stops: [
    { code: 'MMCT', seq: 0, arrivalMin: null, departureMin: 1020, distanceKm: 0 },
    { code: 'BRC', seq: 1, arrivalMin: 1266, departureMin: 1276, distanceKm: 392 },
    { code: 'RTM', seq: 2, arrivalMin: 1465, departureMin: 1468, distanceKm: 653 },
    { code: 'NDLS', seq: 3, arrivalMin: 1952, departureMin: null, distanceKm: 1386 },
  ],
};

describe('connectionOn', () => {
  it('leaves the origin on the date asked for', () => {
    expect(connectionOn(overnight, 'MMCT', 'NDLS', '2026-12-07')).toEqual({
      number: '12951',
      name: overnight.name,
      type: 'RAJDHANI',
      from: 'MMCT',
      to: 'NDLS',
      date: '2026-12-07',
      originDate: '2026-12-07',
      departure: '17:00',
      arrival: '08:32',
      arrivalDate: '2026-12-08',
      durationMinutes: 932,
      distanceKm: 1386,
      classes: ['1A', '2A', '3A'],
      departureMinute: 1020,
    });
  });

  it('reaches a day-2 station the day after it left its origin: runsOn is checked on the origin date', () => {
    // RTM at 00:28 on journey day 2: on Tuesday 2026-12-08 it is the Monday run.
    const tuesday = connectionOn(overnight, 'RTM', 'NDLS', '2026-12-08');
    expect(tuesday).toMatchObject({
      originDate: '2026-12-07',
      departure: '00:28',
      arrival: '08:32',
      arrivalDate: '2026-12-08',
      durationMinutes: 484,
      distanceKm: 733,
    });
    // On Monday at RTM there is no train: the Sunday run does not exist.
    expect(connectionOn(overnight, 'RTM', 'NDLS', '2026-12-07')).toBeNull();
  });

  it('needs from before to on the route', () => {
    expect(connectionOn(overnight, 'NDLS', 'MMCT', '2026-12-07')).toBeNull();
    expect(connectionOn(overnight, 'MMCT', 'XYZ', '2026-12-07')).toBeNull();
  });

  it('filters by class and sorts by departure time at from', () => {
    const early: TrainRoute = {
      ...overnight,
      number: '10001',
      classes: ['SL'],
      stops: overnight.stops.map((s) => ({
        ...s,
        departureMin: s.departureMin === null ? null : s.departureMin - 600,
        arrivalMin: s.arrivalMin === null ? null : s.arrivalMin - 600,
      })),
    };
    expect(connectionsBetween([overnight, early], 'MMCT', 'NDLS', '2026-12-07', null).map((c) => c.number)).toEqual([
      '10001',
      '12951',
    ]);
    expect(connectionsBetween([overnight, early], 'MMCT', 'NDLS', '2026-12-07', '3A').map((c) => c.number)).toEqual([
      '12951',
    ]);
  });
});

describe('trainsBetween input', () => {
  const fieldOf = (fn: () => unknown) => {
    try {
      fn();
      return null;
    } catch (err) {
      return err instanceof AppError ? [err.code, err.extensions.field] : 'not an AppError';
    }
  };

  it('normalizes codes and classes', () => {
    expect(
      validateTrainsBetween({ from: ' mmct', to: 'ndls', date: '2026-12-07', class: 'third_ac' }, '2026-12-01'),
    ).toEqual({ from: 'MMCT', to: 'NDLS', date: '2026-12-07', classCode: '3A' });
    expect(classCodeOf('2a')).toBe('2A');
    expect(classCodeOf(null)).toBeNull();
  });

  it('refuses past dates, equal or malformed stations and unknown classes', () => {
    expect(
      fieldOf(() => validateTrainsBetween({ from: 'MMCT', to: 'NDLS', date: '2026-11-30' }, '2026-12-01')),
    ).toEqual(['BAD_USER_INPUT', 'date']);
    expect(
      fieldOf(() => validateTrainsBetween({ from: 'MMCT', to: 'mmct', date: '2026-12-07' }, '2026-12-01')),
    ).toEqual(['BAD_USER_INPUT', 'to']);
    expect(
      fieldOf(() => validateTrainsBetween({ from: 'MM CT', to: 'NDLS', date: '2026-12-07' }, '2026-12-01')),
    ).toEqual(['BAD_USER_INPUT', 'from']);
    expect(
      fieldOf(() => validateTrainsBetween({ from: 'MMCT', to: 'NDLS', date: '2026-12-07', class: '4A' }, '2026-12-01')),
    ).toEqual(['BAD_USER_INPUT', 'class']);
  });
});
