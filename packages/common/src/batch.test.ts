import { describe, expect, it } from 'vitest';
import { BatchLoader, byKeys, requestLoader } from './batch.ts';

function recording<K, V>(fn: (k: K) => V) {
  const calls: K[][] = [];
  const loader = new BatchLoader<K, V>(async (keys) => {
    calls.push(keys);
    return keys.map(fn);
  });
  return { calls, loader };
}

describe('BatchLoader', () => {
  it('loads the keys asked for in one tick with one call, each key once, answers in order', async () => {
    const { calls, loader } = recording((k: number) => k * 10);
    const got = await Promise.all([loader.load(3), loader.load(1), loader.load(3), loader.load(2)]);
    expect(got).toEqual([30, 10, 30, 20]);
    expect(calls).toEqual([[3, 1, 2]]);
    // Cached for the loader's life: a later load of a known key makes no call.
    expect(await loader.loadMany([1, 4])).toEqual([10, 40]);
    expect(calls).toEqual([[3, 1, 2], [4]]);
  });

  it('batches keys asked for by resolvers that start after an await, like child fields of entities', async () => {
    const { calls, loader } = recording((k: string) => k.toUpperCase());
    const parents = await Promise.all(['a', 'b', 'c'].map(async (k) => k));
    const children = await Promise.all(parents.map(async (p) => loader.load(await Promise.resolve(p))));
    expect(children).toEqual(['A', 'B', 'C']);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('splits a very large batch into calls of at most 500 keys', async () => {
    const { calls, loader } = recording((k: number) => k);
    const keys = Array.from({ length: 1_201 }, (_, i) => i);
    expect(await loader.loadMany(keys)).toEqual(keys);
    expect(calls.map((c) => c.length)).toEqual([500, 500, 201]);
  });

  it('rejects every key of a failed call and tries them again later; a wrong-length answer is an error', async () => {
    let fail = true;
    const loader = new BatchLoader<number, number>(async (keys) => {
      if (fail) throw new Error('db down');
      return keys;
    });
    await expect(Promise.all([loader.load(1), loader.load(2)])).rejects.toThrow('db down');
    fail = false;
    expect(await loader.load(1)).toBe(1);
    const short = new BatchLoader<number, number>(async () => [1]);
    await expect(short.loadMany([1, 2])).rejects.toThrow(/1 values for 2 keys/);
  });
});

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
    expect(await Promise.all([requestLoader(a, load).load('x'), requestLoader(b, load).load('x'), requestLoader(a, load).load('y')])).toEqual(['a:x', 'b:x', 'a:y']);
    expect(calls).toEqual([['x', 'y'], ['x']]);
  });
});

describe('byKeys', () => {
  it('puts rows in the keys order and fills the gaps', () => {
    const rows = [{ id: 2 }, { id: 1 }];
    expect(byKeys([1, 3, 2, 1], rows, (r) => r.id)).toEqual([{ id: 1 }, null, { id: 2 }, { id: 1 }]);
    expect(byKeys([5], rows, (r) => r.id, [])).toEqual([[]]);
  });
});
