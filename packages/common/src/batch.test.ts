import { describe, expect, it } from 'vitest';
import { byKeys, requestLoader } from './batch.ts';

describe('requestLoader', () => {
  it('gives one loader per request context', async () => {
    const calls: string[][] = [];
    const tagged = requestLoader(async (keys: string[], ctx: { tag: string }) => {
      calls.push(keys);
      return keys.map((k) => `${ctx.tag}:${k}`);
    });
    const a = { tag: 'a' };
    const b = { tag: 'b' };
    expect(tagged(a)).toBe(tagged(a));
    expect(tagged(a)).not.toBe(tagged(b));
    expect(await Promise.all([tagged(a).load('x'), tagged(b).load('x'), tagged(a).load('y')])).toEqual([
      'a:x',
      'b:x',
      'a:y',
    ]);
    expect(calls).toEqual([['x', 'y'], ['x']]);
  });

  it('keeps the loaders of two batch functions apart in one request', async () => {
    const upper = requestLoader(async (keys: string[]) => keys.map((k) => k.toUpperCase()));
    const lower = requestLoader(async (keys: string[]) => keys.map((k) => k.toLowerCase()));
    const ctx = {};
    expect(upper(ctx)).not.toBe(lower(ctx));
    expect(await Promise.all([upper(ctx).load('Ab'), lower(ctx).load('Ab')])).toEqual(['AB', 'ab']);
  });

  it('splits a very large batch into calls of at most 500 keys, or maxBatchSize', async () => {
    const sizes: number[] = [];
    const batch = async (keys: number[]) => {
      sizes.push(keys.length);
      return keys;
    };
    const keys = Array.from({ length: 1_201 }, (_, i) => i);
    expect(await requestLoader(batch)({}).loadMany(keys)).toEqual(keys);
    expect(sizes).toEqual([500, 500, 201]);
    sizes.length = 0;
    expect(await requestLoader(batch, { maxBatchSize: 1_000 })({}).loadMany(keys)).toEqual(keys);
    expect(sizes).toEqual([1_000, 201]);
  });

  it('caches object keys by cacheKeyFn', async () => {
    const calls: { runId: string; mask: bigint }[][] = [];
    const taken = requestLoader(
      async (keys: { runId: string; mask: bigint }[]) => {
        calls.push(keys);
        return keys.map((k) => `${k.runId}/${k.mask}`);
      },
      { cacheKeyFn: (k) => `${k.runId}|${k.mask}` },
    );
    const ctx = {};
    expect(
      await Promise.all([taken(ctx).load({ runId: 'r', mask: 3n }), taken(ctx).load({ runId: 'r', mask: 3n })]),
    ).toEqual(['r/3', 'r/3']);
    expect(calls).toEqual([[{ runId: 'r', mask: 3n }]]);
  });
});

describe('byKeys', () => {
  it('puts rows in the keys order and fills the gaps', () => {
    const rows = [{ id: 2 }, { id: 1 }];
    expect(byKeys([1, 3, 2, 1], rows, (r) => r.id)).toEqual([{ id: 1 }, null, { id: 2 }, { id: 1 }]);
    expect(byKeys([5], rows, (r) => r.id, [])).toEqual([[]]);
  });
});
