// pnpm schema:compose — writes supergraph.graphql and the API schema baseline from supergraph.yaml,
// then the typed client and its trusted-documents manifest from that API schema (packages/client),
// and each subgraph's resolver types from its own SDL (schema-checks/resolvers.ts).
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { writeClient } from '../packages/client/codegen.ts';
import { writeResolverTypes } from './resolvers.ts';
import { artifacts, composeSupergraph, REPO_ROOT, SUPERGRAPH_CONFIG } from './supergraph.ts';

try {
  const composed = composeSupergraph(SUPERGRAPH_CONFIG);
  for (const hint of composed.hints) console.warn(`hint: ${hint}`);
  for (const { path, contents } of artifacts(composed)) {
    writeFileSync(path, contents);
    console.log(`wrote ${relative(REPO_ROOT, path)} (${composed.subgraphs.length} subgraphs)`);
  }
  for (const path of await writeClient(composed.apiSchemaSdl)) console.log(`wrote ${path}`);
  for (const path of await writeResolverTypes(SUPERGRAPH_CONFIG)) console.log(`wrote ${path}`);
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
