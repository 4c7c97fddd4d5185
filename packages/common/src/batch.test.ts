import { describe, expect, it } from 'vitest';
import { byKeys, requestLoader } from './batch.ts';

describe('requestLoader', () => {
  it('gives one loader per request context and batch function', async () => {
    const calls: string[][] = [];
    const load = async (keys: string[], ctx: { tag: string }) => {
      calls.push(keys);
      return keys.map((k) => `${ctx.tag}:${k}`);
    };
    const a = { tag: 'a' };
    const b = { tag: 'b' };
    expect(requestLoader(a, load)).toBe(requestLoader(a, load));
    expect(requestLoader(a, load)).not.toBe(requestLoader(b, load));
    expect(
      await Promise.all([
        requestLoader(a, load).load('x'),
        requestLoader(b, load).load('x'),
        requestLoader(a, load).load('y'),
      ]),
    ).toEqual(['a:x', 'b:x', 'a:y']);
    expect(calls).toEqual([['x', 'y'], ['x']]);
  });

  it('splits a very large batch into calls of at most 500 keys', async () => {
    const sizes: number[] = [];
    const load = async (keys: number[]) => {
      sizes.push(keys.length);
      return keys;
    };
    const keys = Array.from({ length: 1_201 }, (_, i) => i);
    expect(await requestLoader({}, load).loadMany(keys)).toEqual(keys);
    expect(sizes).toEqual([500, 500, 201]);
  });
});

describe('byKeys', () => {
  it('puts rows in the keys order and fills the gaps', () => {
    const rows = [{ id: 2 }, { id: 1 }];
    expect(byKeys([1, 3, 2, 1], rows, (r) => r.id)).toEqual([{ id: 1 }, null, { id: 2 }, { id: 1 }]);
    expect(byKeys([5], rows, (r) => r.id, [])).toEqual([[]]);
  });
});
