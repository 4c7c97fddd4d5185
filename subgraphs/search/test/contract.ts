// Runs the contract (packages/testkit/src/searchContract.ts) against one backend: one `it` per case.
import { expect, it } from 'vitest';
import type { SearchBackend } from '../src/backends/types.ts';
import { normalizeQuery } from '../src/domain/text.ts';
import { CONTRACT, type ContractCase } from '../../../packages/testkit/src/searchContract.ts';

export { CONTRACT };

const idsOf = async (backend: SearchBackend, c: ContractCase): Promise<string[]> => {
  const q = normalizeQuery(c.query);
  const slice = { offset: 0, size: Math.max(10, c.within ?? 0) };
  return c.kind === 'stations'
    ? (await backend.searchStations(q, slice)).map((h) => h.code)
    : (await backend.searchTrains(q, slice)).map((h) => h.number);
};

/** One `it` per case, named by what it checks. */
export function contractTests(backend: () => SearchBackend) {
  for (const c of CONTRACT) {
    it(`${c.kind} "${c.query}" (${c.why})`, async () => {
      const ids = await idsOf(backend(), c);
      if (c.empty) expect(ids).toEqual([]);
      if (c.top) expect(ids[0]).toBe(c.top);
      if (c.topAnyOf) expect(c.topAnyOf).toContain(ids[0]);
      if (c.includes) expect(ids.slice(0, c.within ?? 10)).toEqual(expect.arrayContaining(c.includes));
    });
  }
}
