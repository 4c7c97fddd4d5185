// pnpm schema:check — the CI gate: the supergraph composes, the committed files are fresh, and the
// API schema has no breaking changes against the previous committed version.
//   --base <ref> | SCHEMA_BASE_REF           compare against this git ref (default origin/main when HEAD
//                                            is not on it, else HEAD~1)
//   --base-file <path>                       compare against an API schema file instead (no git needed)
//   --allow-breaking | ALLOW_BREAKING_SCHEMA_CHANGES=1   report breaking changes as warnings only
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { staleClientFiles } from '../packages/client/codegen.ts';
import { findSchemaChanges, formatChange } from './breaking.ts';
import { staleResolverTypes } from './resolvers.ts';
import {
  API_SCHEMA_FILE,
  artifacts,
  composeSupergraph,
  REPO_ROOT,
  SUPERGRAPH_CONFIG,
  type ComposedSupergraph,
} from './supergraph.ts';

interface Options {
  baseRef: string | undefined;
  baseFile: string | undefined;
  allowBreaking: boolean;
}

function parseArgs(argv: string[]): Options {
  let baseRef = process.env.SCHEMA_BASE_REF || undefined;
  let baseFile: string | undefined;
  let allowBreaking = process.env.ALLOW_BREAKING_SCHEMA_CHANGES === '1';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (!next || next.startsWith('--')) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--allow-breaking') allowBreaking = true;
    else if (arg === '--base') baseRef = value();
    else if (arg?.startsWith('--base=')) baseRef = arg.slice('--base='.length);
    else if (arg === '--base-file') baseFile = value();
    else throw new Error(`unknown argument: ${arg}`);
  }
  return { baseRef, baseFile, allowBreaking };
}

/** The API schema to compare against; `ref` names it in the report. */
interface BaseSchema {
  ref: string;
  sdl?: string;
  unavailable?: string;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function refExists(ref: string): boolean {
  try {
    git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/** The committed API schema at the base ref, or the reason it is unavailable. */
function readBaseApiSchema(explicitRef: string | undefined): BaseSchema {
  let ref = explicitRef ?? 'HEAD~1';
  try {
    // On a branch, compare with main; on main itself (CI's clone of main), with the previous commit.
    if (
      !explicitRef &&
      refExists('origin/main') &&
      git(['rev-parse', 'origin/main']).trim() !== git(['rev-parse', 'HEAD']).trim()
    )
      ref = 'origin/main';
    // "./" makes the path relative to REPO_ROOT even if the git root is above it.
    const path = `./${relative(REPO_ROOT, API_SCHEMA_FILE).split('\\').join('/')}`;
    return { ref, sdl: git(['show', `${ref}:${path}`]) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'git is not installed' : (e.stderr?.trim().split('\n')[0] ?? e.message);
    return { ref, unavailable: why };
  }
}

function readBaseFile(path: string): BaseSchema {
  try {
    return { ref: path, sdl: readFileSync(path, 'utf8') };
  } catch (err) {
    return { ref: path, unavailable: (err as Error).message };
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const problems: string[] = [];
  let stale = false;

  let composed: ComposedSupergraph;
  try {
    composed = composeSupergraph(SUPERGRAPH_CONFIG);
  } catch (err) {
    console.error((err as Error).message);
    console.error('schema check: FAILED (composition)');
    return 1;
  }
  // Hints never fail the check; compose prints them in full.
  if (composed.hints.length > 0)
    console.log(`${composed.hints.length} composition hint(s): run pnpm schema:compose to see them`);

  for (const { path, contents } of artifacts(composed)) {
    let committed: string | undefined;
    try {
      committed = readFileSync(path, 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== contents) {
      const name = relative(REPO_ROOT, path);
      stale = true;
      problems.push(`${name} is ${committed === undefined ? 'missing' : 'stale'}: run pnpm schema:compose`);
    }
  }

  // The typed client and its trusted documents, generated from this API schema (a client operation
  // the schema no longer allows fails here too: codegen validates every document).
  try {
    for (const name of await staleClientFiles(composed.apiSchemaSdl)) {
      stale = true;
      problems.push(`${name} is stale: run pnpm schema:compose (or npm run client:codegen)`);
    }
  } catch (err) {
    problems.push(`client codegen failed: ${(err as Error).message}`);
  }

  // Each subgraph's resolver types, generated from its own SDL: a schema change that the committed
  // types do not have yet fails here (and the resolvers' type check, once regenerated, shows what to change).
  try {
    for (const name of await staleResolverTypes(SUPERGRAPH_CONFIG)) {
      stale = true;
      problems.push(`${name} is stale: run pnpm schema:compose (or npm run codegen:resolvers)`);
    }
  } catch (err) {
    problems.push(`resolver codegen failed: ${(err as Error).message}`);
  }

  let changesSummary: string;
  const base = options.baseFile ? readBaseFile(options.baseFile) : readBaseApiSchema(options.baseRef);
  if (base.sdl === undefined) {
    console.log(`breaking-change check skipped: no API schema at ${base.ref} (${base.unavailable})`);
    changesSummary = `breaking-change check skipped (no base at ${base.ref})`;
  } else {
    const changes = await findSchemaChanges(base.sdl, composed.apiSchemaSdl);
    if (changes.breaking.length + changes.dangerous.length > 0) {
      console.log(`API schema changes vs ${base.ref}:`);
      const breakingPrefix = options.allowBreaking ? 'warning: ' : '';
      for (const change of changes.breaking) console.log(`  ${breakingPrefix}${formatChange(change)}`);
      for (const change of changes.dangerous) console.log(`  ${formatChange(change)}`);
    }
    if (changes.breaking.length > 0) {
      if (options.allowBreaking) {
        console.warn(
          `warning: ${changes.breaking.length} breaking change(s) allowed by ` +
            '--allow-breaking / ALLOW_BREAKING_SCHEMA_CHANGES',
        );
      } else {
        problems.push(
          `${changes.breaking.length} breaking API schema change(s) vs ${base.ref}; ` +
            'pass --allow-breaking (or ALLOW_BREAKING_SCHEMA_CHANGES=1) if intended',
        );
      }
    }
    changesSummary =
      `${changes.breaking.length} breaking, ${changes.dangerous.length} dangerous, ` +
      `${changes.safe.length} safe changes vs ${base.ref}`;
  }

  for (const problem of problems) console.error(problem);
  const freshness = stale ? 'committed schema files STALE' : 'supergraph, client and resolver types up to date';
  const status = problems.length > 0 ? 'FAILED: ' : '';
  console.log(
    `schema check: ${status}composed ${composed.subgraphs.length} subgraphs, ${freshness}, ${changesSummary}`,
  );
  return problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
