// Tests and benchmarks never import each other: what both need (starting real processes, the
// contention train, the search contract) is in packages/testkit. Every import specifier of every
// source file is read with TypeScript's own pre-processor (imports, re-exports, dynamic import(),
// require; comments and strings are not imports), resolved, and checked:
// - a file under bench/ imports nothing from a test folder (test/, any */test/) or a *.test.* file;
// - a test (a *.test.* file, or any file in a test folder) imports nothing under bench/;
// - packages/testkit imports neither: it must not become the way round the rule.
// bench's own unit tests (bench/*.test.ts) test bench code: they are bench files here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const SOURCE = /\.(?:[cm]?ts|[cm]?js|tsx)$/;
const SKIP = new Set(['node_modules', '.git', 'generated', 'results', 'coverage', 'dist']);

type Area = 'bench' | 'test' | 'testkit' | 'other';

/** Where a repository path (forward slashes, relative to the root) belongs. */
function areaOf(path: string): Area {
  if (path === 'bench' || path.startsWith('bench/')) return 'bench';
  if (path.startsWith('packages/testkit/')) return 'testkit';
  const parts = path.split('/');
  if (parts.slice(0, -1).includes('test') || /\.test\.[cm]?[jt]sx?$/.test(parts.at(-1)!)) return 'test';
  return 'other';
}

/** The module specifiers a source text imports, re-exports, import()s or require()s. */
function specifiersOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Repository path a specifier of `from` points at; null for a package other than the bench's own. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (specifier === '@tatkal/bench' || specifier.startsWith('@tatkal/bench/')) return 'bench';
  if (!specifier.startsWith('.')) return null;
  return normalize(join(dirname(from), specifier))
    .split(sep)
    .join('/');
}

/** `from -> target` for each import that crosses the line between tests and benchmarks. */
function violations(files: { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    const from = areaOf(path);
    if (from === 'other') continue;
    for (const specifier of specifiersOf(text)) {
      const target = resolveSpecifier(path, specifier);
      if (target === null) continue;
      const to = areaOf(target);
      const crosses =
        ((from === 'bench' || from === 'testkit') && to === 'test') ||
        ((from === 'test' || from === 'testkit') && to === 'bench');
      if (crosses) found.push(`${path} -> ${specifier}`);
    }
  }
  return found;
}

function sourceFiles(dir = root): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return [];
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    if (!SOURCE.test(entry.name) || entry.name.endsWith('.d.ts')) return [];
    return [{ path: relative(root, full).split(sep).join('/'), text: readFileSync(full, 'utf8') }];
  });
}

describe('tests and benchmarks', () => {
  it('never import each other (nor does packages/testkit import either)', () => {
    const files = sourceFiles();
    // The walk sees both sides (a wrong root would pass vacuously).
    expect(files.filter((f) => areaOf(f.path) === 'bench').length).toBeGreaterThan(5);
    expect(files.filter((f) => areaOf(f.path) === 'test').length).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  it('reads imports as TypeScript does: every form counts, comments and strings do not', () => {
    const files = [
      { path: 'bench/a.ts', text: "import { createTestRun } from '../subgraphs/booking/test/fixtures.ts';" },
      { path: 'bench/b.ts', text: "export * from '../test/support/db.ts';" },
      { path: 'bench/c.test.ts', text: "const m = await import('../gateway/test/helpers.ts');" },
      { path: 'bench/d.ts', text: "import type { X } from '../subgraphs/search/src/x.test.ts';" },
      { path: 'subgraphs/x/test/e.int.test.ts', text: "import { startStack } from '../../../bench/stack.ts';" },
      { path: 'test/support/f.ts', text: "import type { Stack } from '@tatkal/bench/stack.ts';" },
      { path: 'gateway/src/g.test.ts', text: "const p = require('../../bench/processes.ts');" },
      { path: 'packages/testkit/src/h.ts', text: "import { waitFor } from '../../../test/support/wait.ts';" },
      // Not imports: a comment, a string, a package, bench importing bench, a test importing the kit.
      { path: 'bench/i.ts', text: "// import '../test/support/db.ts'\nconst s = \"from '../test/x.ts'\";" },
      { path: 'bench/j.ts', text: "import { z } from 'zod';\nimport { run } from './load.ts';" },
      { path: 'test/k.test.ts', text: "import { startProcess } from '../packages/testkit/src/processes.ts';" },
      { path: 'bench/l.ts', text: "import { startProcess } from '../packages/testkit/src/processes.ts';" },
    ];
    expect(violations(files)).toEqual([
      'bench/a.ts -> ../subgraphs/booking/test/fixtures.ts',
      'bench/b.ts -> ../test/support/db.ts',
      'bench/c.test.ts -> ../gateway/test/helpers.ts',
      'bench/d.ts -> ../subgraphs/search/src/x.test.ts',
      'subgraphs/x/test/e.int.test.ts -> ../../../bench/stack.ts',
      'test/support/f.ts -> @tatkal/bench/stack.ts',
      'gateway/src/g.test.ts -> ../../bench/processes.ts',
      'packages/testkit/src/h.ts -> ../../../test/support/wait.ts',
    ]);
  });
});
