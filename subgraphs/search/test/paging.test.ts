import { describe, expect, it } from 'vitest';
import { AppError } from '@tatkal/common';
import { decodeCursor, encodeCursor, pageOf, scopeOf } from '../src/domain/paging.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof AppError ? [err.code, err.extensions.field] : 'not an AppError';
  }
};

describe('cursor paging', () => {
  const scope = scopeOf('stations', 'mumbai');

  it('round-trips a position within the same search', () => {
    expect(decodeCursor(encodeCursor(scope, 17), scope)).toBe(17);
    expect(pageOf({ first: 5, after: encodeCursor(scope, 5) }, scope, 10)).toEqual({ offset: 5, size: 5, scope });
    expect(pageOf({}, scope, 10)).toEqual({ offset: 0, size: 10, scope });
  });

  it('refuses a cursor of another search, garbage, and page sizes outside 1..50', () => {
    expect(codeOf(() => decodeCursor(encodeCursor(scopeOf('stations', 'delhi'), 3), scope))).toEqual([
      'BAD_USER_INPUT',
      'after',
    ]);
    expect(codeOf(() => decodeCursor('not a cursor!', scope))).toEqual(['BAD_USER_INPUT', 'after']);
    expect(codeOf(() => decodeCursor(Buffer.from('x:1').toString('base64url'), scope))).toEqual([
      'BAD_USER_INPUT',
      'after',
    ]);
    expect(codeOf(() => pageOf({ first: 0 }, scope, 10))).toEqual(['BAD_USER_INPUT', 'first']);
    expect(codeOf(() => pageOf({ first: 51 }, scope, 10))).toEqual(['BAD_USER_INPUT', 'first']);
    expect(codeOf(() => pageOf({ first: 0 }, scope, 10, 'limit'))).toEqual(['BAD_USER_INPUT', 'limit']);
  });
});
