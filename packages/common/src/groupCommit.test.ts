import { describe, expect, it } from 'vitest';
import { ALONE, groupCommit, groupCommitOrAlone, splitRepeats } from './groupCommit.ts';

describe('groupCommit', () => {
  it('writes what arrives together in one batch, and what arrives meanwhile in the next', async () => {
    const batches: number[][] = [];
    const commit = groupCommit<number, number>(
      () => 3,
      async (batch) => {
        batches.push(batch.map((e) => e.item));
        for (const e of batch) e.resolve(e.item * 10);
      },
    );
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => commit.submit(n)));
    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('rejects the entries a failed write left unanswered, and goes on', async () => {
    const commit = groupCommit<number, number>(
      () => 10,
      async (batch) => {
        batch[0]!.resolve(1);
        throw new Error('boom');
      },
    );
    const settled = await Promise.allSettled([commit.submit(1), commit.submit(2)]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
    expect(await commit.submit(3)).toBe(1);
  });
});

describe('splitRepeats', () => {
  it('keeps the first entry of every key in the batch and defers the repeats, in order', () => {
    const entries = [
      { id: 'm1', row: 'a' },
      { id: 'm2', row: 'b' },
      { id: 'm1', row: 'a' }, // the same message again
      { id: 'm3', row: 'b' }, // another message for row b
      { id: 'm4', row: 'c' },
    ];
    const { first, later } = splitRepeats(entries, (e) => [`message:${e.id}`, `row:${e.row}`]);
    expect(first.map((e) => e.id)).toEqual(['m1', 'm2', 'm4']);
    expect(later.map((e) => e.id)).toEqual(['m1', 'm3']);
  });
});

describe('groupCommitOrAlone', () => {
  it("answers the batch's results, and ALONE to repeats and to every item of a batch whose write threw", async () => {
    const errors: number[] = [];
    let fail = false;
    const submit = groupCommitOrAlone<{ id: string; row: string }, string>({
      maxBatch: 10,
      keysOf: (e) => [`row:${e.row}`],
      write: async (items) => {
        if (fail) throw new Error('boom');
        return items.map((e) => (e.id === 'skip' ? ALONE : `done ${e.id}`));
      },
      onError: (_err, n) => errors.push(n),
    });
    const items = [
      { id: 'a', row: '1' },
      { id: 'b', row: '1' }, // the same row again: after the batch, alone
      { id: 'skip', row: '2' },
      { id: 'c', row: '3' },
    ];
    expect(await Promise.all(items.map(submit))).toEqual(['done a', ALONE, ALONE, 'done c']);
    fail = true;
    expect(await Promise.all(items.map(submit))).toEqual([ALONE, ALONE, ALONE, ALONE]);
    expect(errors).toEqual([3]);
  });
});
