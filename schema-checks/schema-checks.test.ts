import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind, parse, type EnumTypeDefinitionNode } from './graphql.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { findSchemaChanges } from './breaking.ts';
import { artifacts, composeSupergraph, readSupergraphConfig, SUPERGRAPH_CONFIG } from './supergraph.ts';

const tmpDirs: string[] = [];
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes subgraph SDL files plus a supergraph.yaml pointing at them; returns the yaml path. */
function writeTmpSupergraph(subgraphs: Record<string, string>, yamlOverride?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-checks-'));
  tmpDirs.push(dir);
  const entries = Object.entries(subgraphs).map(([name, sdl], i) => {
    writeFileSync(join(dir, `${name}.graphql`), sdl);
    return (
      `  ${name}:\n    routing_url: http://localhost:${5001 + i}/graphql\n` +
      `    schema:\n      file: ./${name}.graphql\n`
    );
  });
  const yamlPath = join(dir, 'supergraph.yaml');
  writeFileSync(yamlPath, yamlOverride ?? `federation_version: =2.7.1\nsubgraphs:\n${entries.join('')}`);
  return yamlPath;
}

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])\n';

describe('composeSupergraph (real supergraph.yaml)', () => {
  it('composes every configured subgraph into the join__Graph enum', () => {
    const config = readSupergraphConfig(SUPERGRAPH_CONFIG);
    const composed = composeSupergraph(SUPERGRAPH_CONFIG);

    const joinGraph = parse(composed.supergraphSdl).definitions.find(
      (def): def is EnumTypeDefinitionNode =>
        def.kind === Kind.ENUM_TYPE_DEFINITION && def.name.value === 'join__Graph',
    );
    // Each value carries @join__graph(name: "<subgraph>", url: "<routing_url>").
    const graphs = (joinGraph?.values ?? []).map((value) => {
      const args = value.directives?.find((d) => d.name.value === 'join__graph')?.arguments ?? [];
      const arg = (name: string) => {
        const node = args.find((a) => a.name.value === name)?.value;
        return node?.kind === Kind.STRING ? node.value : undefined;
      };
      return { name: arg('name'), url: arg('url') };
    });

    expect(config.subgraphs.map((s) => s.name).sort()).toEqual(['auth', 'booking', 'payment', 'search']);
    expect(graphs.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual(
      config.subgraphs.map((s) => ({ name: s.name, url: s.routingUrl })).sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('produces an API schema without federation internals', () => {
    const { apiSchemaSdl } = composeSupergraph(SUPERGRAPH_CONFIG);
    expect(apiSchemaSdl).toMatch(/type Query \{/);
    expect(apiSchemaSdl).toContain('searchStations(');
    expect(apiSchemaSdl).not.toMatch(/join__|link__|@link/);
  });

  it('matches the committed supergraph.graphql and api-schema.graphql (run pnpm schema:compose if this fails)', () => {
    const expected = artifacts(composeSupergraph(SUPERGRAPH_CONFIG));
    expect(expected).toHaveLength(2);
    for (const { path, contents } of expected) {
      expect(readFileSync(path, 'utf8'), `${path} is stale`).toBe(contents);
    }
  });
});

describe('composeSupergraph (composition errors)', () => {
  it('lists every composition error with its code', () => {
    const product = `${LINK}type Product @key(fields: "id") { id: ID! name: String }\n`;
    const yaml = writeTmpSupergraph({
      // Both subgraphs resolve Product.name without @shareable.
      inventory: `${product}type Query { products: [Product!]! }\n`,
      catalog: `${product}type Query { product(id: ID!): Product }\n`,
    });

    expect(() => composeSupergraph(yaml)).toThrowError(
      new RegExp(
        /composition failed[\s\S]*INVALID_FIELD_SHARING: /.source +
          /Non-shareable field "Product\.name" is resolved from multiple subgraphs/.source,
      ),
    );
  });

  it('reports a @key on a field that does not exist, one error per line', () => {
    const yaml = writeTmpSupergraph({
      users: `${LINK}type User @key(fields: "uuid") { id: ID! }\ntype Query { me: User }\n`,
      orders: `${LINK}type Order @key(fields: "nope") { id: ID! }\ntype Query { orders: [Order!]! }\n`,
    });

    let message = '';
    try {
      composeSupergraph(yaml);
    } catch (err) {
      message = (err as Error).message;
    }
    const errorLines = message.split('\n').slice(1);
    expect(errorLines).toHaveLength(2);
    expect(errorLines.every((line) => /^\s+[A-Z_]+: /.test(line))).toBe(true);
    expect(message).toContain('"uuid"');
    expect(message).toContain('"nope"');
  });
});

describe('readSupergraphConfig', () => {
  it('rejects a subgraph whose schema.file is missing, naming the subgraph', () => {
    const yaml = writeTmpSupergraph(
      {},
      'subgraphs:\n  ok:\n    routing_url: http://localhost:1/graphql\n    schema:\n      file: ./ok.graphql\n' +
        '  ghost:\n    routing_url: http://localhost:2/graphql\n    schema:\n      file: ./does-not-exist.graphql\n',
    );
    writeFileSync(join(yaml, '..', 'ok.graphql'), `${LINK}type Query { ok: Boolean }\n`);

    expect(() => readSupergraphConfig(yaml)).toThrowError(
      /subgraph "ghost": schema\.file "\.\/does-not-exist\.graphql" does not exist/,
    );
  });

  it('rejects a subgraph without schema.file, or with a non-http routing_url', () => {
    const noFile = writeTmpSupergraph({}, 'subgraphs:\n  nofile:\n    routing_url: http://localhost:1/graphql\n');
    expect(() => readSupergraphConfig(noFile)).toThrowError(/subgraph "nofile": schema\.file is missing/);

    const badUrl = writeTmpSupergraph({ svc: `${LINK}type Query { a: Int }\n` });
    writeFileSync(badUrl, readFileSync(badUrl, 'utf8').replace('http://localhost:5001/graphql', 'ftp://example.com'));
    expect(() => readSupergraphConfig(badUrl)).toThrowError(
      /subgraph "svc": routing_url "ftp:\/\/example\.com" is not an http\(s\) URL/,
    );
  });

  it('resolves schema.file relative to the yaml file', () => {
    const yaml = writeTmpSupergraph({ svc: `${LINK}type Query { a: Int }\n` });
    const config = readSupergraphConfig(yaml);
    expect(config.federationVersion).toBe('=2.7.1');
    expect(config.subgraphs).toEqual([
      { name: 'svc', routingUrl: 'http://localhost:5001/graphql', schemaFile: join(yaml, '..', 'svc.graphql') },
    ]);
  });
});

describe('findSchemaChanges', () => {
  const base = /* GraphQL */ `
    enum Role { CUSTOMER ADMIN }
    type User { id: ID! name: String! role: Role! }
    type Query { users(first: Int, after: String): [User!]! me: User }
  `;

  it('classifies removing a field as breaking', async () => {
    const changes = await findSchemaChanges(base, base.replace('name: String!', ''));
    expect(changes.breaking.map((c) => c.type)).toEqual(['FIELD_REMOVED']);
    expect(changes.breaking[0]?.message).toContain("'name'");
    expect(changes.dangerous).toEqual([]);
    expect(changes.safe).toEqual([]);
  });

  it('classifies adding a nullable field as safe', async () => {
    const changes = await findSchemaChanges(base, base.replace('name: String!', 'name: String! phone: String'));
    expect(changes.breaking).toEqual([]);
    expect(changes.dangerous).toEqual([]);
    expect(changes.safe.map((c) => c.type)).toEqual(['FIELD_ADDED']);
  });

  it('classifies making an optional argument required as breaking', async () => {
    const changes = await findSchemaChanges(base, base.replace('first: Int,', 'first: Int!,'));
    expect(changes.breaking.map((c) => c.type)).toEqual(['FIELD_ARGUMENT_TYPE_CHANGED']);
    expect(changes.safe).toEqual([]);
  });

  it('classifies adding an enum value as dangerous', async () => {
    const changes = await findSchemaChanges(base, base.replace('CUSTOMER ADMIN', 'CUSTOMER ADMIN AGENT'));
    expect(changes.breaking).toEqual([]);
    expect(changes.dangerous.map((c) => c.type)).toEqual(['ENUM_VALUE_ADDED']);
    expect(changes.dangerous[0]?.message).toContain("'AGENT'");
  });

  it('finds no changes between identical schemas', async () => {
    expect(await findSchemaChanges(base, base)).toEqual({ breaking: [], dangerous: [], safe: [] });
  });
});
