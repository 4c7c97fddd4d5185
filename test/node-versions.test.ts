// The Node.js versions the project says it runs on, the ones CI runs the suite on (.ci/node-versions)
// and the one the image ships must agree: every tested version is allowed by package.json
// engines, both LTS lines are tested, and the image runs a tested line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

type Version = [number, number, number];
const parse = (v: string): Version => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** npm's range syntax as far as engines uses it: `||` of space-separated `^x.y.z`, `>=x.y.z`, `<x[.y.z]`. */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .every((comparator) => {
        const m = /^(\^|>=|<)(\d+(?:\.\d+){0,2})$/.exec(comparator);
        if (!m) throw new Error(`engines comparator not understood: ${comparator}`);
        const parts = m[2]!.split('.').map(Number);
        const bound: Version = [parts[0]!, parts[1] ?? 0, parts[2] ?? 0];
        if (m[1] === '^') return compare(v, bound) >= 0 && v[0] === bound[0];
        return m[1] === '>=' ? compare(v, bound) >= 0 : compare(v, bound) < 0;
      }),
  );
}

const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
const tested = read('.ci/node-versions')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Node.js versions', () => {
  it('understands the engines range', () => {
    for (const [v, ok] of [
      ['20.19.0', true],
      ['20.18.3', false],
      ['21.7.0', false],
      ['22.12.0', true],
      ['22.23.3', true],
      ['24.0.0', false],
    ] as const) {
      expect(satisfies(v, '^20.19.0 || ^22.12.0'), v).toBe(ok);
    }
    expect(satisfies('24.0.0', '>=20.19.0 <21 || >=22.12.0')).toBe(true);
  });

  it('tests one pinned version of each LTS line engines declares (Node 22 included), declares no untested line', () => {
    expect(tested.map((v) => parse(v)[0])).toEqual([20, 22]);
    for (const v of tested) expect(satisfies(v, engines), `${v} in engines "${engines}"`).toBe(true);
    // An untested major (21, 23, 24 ...) is not promised.
    for (const major of [19, 21, 23, 24, 25, 26]) expect(satisfies(`${major}.99.0`, engines), `${major}.x`).toBe(false);
  });

  it('builds the image on the tested LTS line that is not past end of life', () => {
    const image = /^ARG NODE_VERSION=(\d+)(?:\.(\d+))?/m.exec(read('Dockerfile'));
    expect(image, 'ARG NODE_VERSION in the Dockerfile').not.toBeNull();
    expect(Number(image![1])).toBe(22);
    const line = tested.find((v) => parse(v)[0] === 22)!;
    if (image![2] !== undefined) expect(Number(image![2])).toBeLessThanOrEqual(parse(line)[1]);
  });
});
