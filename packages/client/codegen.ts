// GraphQL Code Generator (client preset) over the supergraph's API schema
// (schema-checks/api-schema.graphql, written by `npm run schema:compose`) and the operations in
// src/operations: typed documents in src/gql/, and the trusted-documents manifest
// src/gql/persisted-documents.json (SHA-256 of each document -> its text) that the gateway accepts
// in production. The output is committed; a stale copy fails the unit test
// packages/client/test/codegen.test.ts and `npm run schema:check`.
//
//   npm run client:codegen            # regenerate (npm run schema:compose does it too)
//   npm run client:codegen -- --check # exit 1 when the committed output is stale
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import type { CodegenConfig } from '@graphql-codegen/cli';

const here = dirname(fileURLToPath(import.meta.url));
export const CLIENT_ROOT = here;
export const OUTPUT_DIR = join(here, 'src/gql');
export const MANIFEST_FILE = join(OUTPUT_DIR, 'persisted-documents.json');

export function codegenConfig(schema = join(here, '../../schema-checks/api-schema.graphql')): CodegenConfig {
  return {
    schema,
    documents: [join(here, 'src/operations/*.graphql')],
    silent: true,
    errorsOnly: true,
    // Imports with their extension (./graphql.js), as NodeNext module resolution wants them.
    emitLegacyCommonJSImports: false,
    generates: {
      [`${OUTPUT_DIR}/`]: {
        preset: 'client',
        presetConfig: {
          // Each document carries its hash (`__meta__.hash`); the manifest maps hash -> text.
          persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
          fragmentMasking: false,
          gqlTagName: 'graphql',
        },
        config: {
          scalars: { Date: 'string', DateTime: 'string' },
          enumsAsTypes: true,
          useTypeImports: true,
          avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
          skipTypename: true,
          dedupeFragments: true,
        },
      },
    },
  };
}

export interface GeneratedFile {
  path: string;
  contents: string;
}

/** The codegen output in memory, every file with its absolute path. */
export async function generateClient(schema?: string): Promise<GeneratedFile[]> {
  const files = (await generate(codegenConfig(schema), false)) as { filename: string; content: string }[];
  return files
    .map((f) => ({ path: f.filename, contents: f.content.endsWith('\n') ? f.content : `${f.content}\n` }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** Files whose committed copy differs from a fresh generation (relative to the repository). */
export async function staleClientFiles(schema?: string): Promise<string[]> {
  const stale: string[] = [];
  for (const file of await generateClient(schema)) {
    let committed: string | undefined;
    try {
      committed = readFileSync(file.path, 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed !== file.contents) stale.push(relative(join(here, '../..'), file.path));
  }
  return stale;
}

export async function writeClient(schema?: string): Promise<string[]> {
  const files = await generateClient(schema);
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
  return files.map((f) => relative(join(here, '../..'), f.path));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  (check ? staleClientFiles() : writeClient()).then(
    (files) => {
      if (check) {
        for (const f of files) console.error(`${f} is stale: run npm run client:codegen`);
        console.log(files.length ? 'client codegen: STALE' : 'client codegen: up to date');
        process.exitCode = files.length ? 1 : 0;
      } else for (const f of files) console.log(`wrote ${f}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
