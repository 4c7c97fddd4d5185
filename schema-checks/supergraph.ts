// Composes the supergraph from supergraph.yaml (Rover's config format) with @apollo/composition,
// so CI and developers get the same result without Rover installed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices, type CompositionSuccess } from '@apollo/composition';
import { parse, printSchema } from './graphql.ts';
import { parse as parseYaml } from 'yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SUPERGRAPH_CONFIG = join(REPO_ROOT, 'supergraph.yaml');
export const SUPERGRAPH_FILE = join(REPO_ROOT, 'supergraph.graphql');
export const API_SCHEMA_FILE = join(REPO_ROOT, 'schema-checks', 'api-schema.graphql');

export interface SubgraphConfig {
  name: string;
  routingUrl: string;
  /** Absolute path of the subgraph's SDL file. */
  schemaFile: string;
}

export interface SupergraphConfig {
  federationVersion: string | undefined;
  subgraphs: SubgraphConfig[];
}

export interface ComposedSupergraph {
  supergraphSdl: string;
  apiSchemaSdl: string;
  subgraphs: SubgraphConfig[];
  /** Composition hints (warnings that do not fail composition), as "CODE: message". */
  hints: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Parses and validates a Rover supergraph.yaml; schema.file paths are relative to the yaml file. */
export function readSupergraphConfig(path: string): SupergraphConfig {
  const configPath = resolve(path);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new Error(`${configPath}: cannot read supergraph config: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new Error(`${configPath}: expected a YAML mapping at the top level`);

  const version = doc.federation_version;
  if (version !== undefined && typeof version !== 'string' && typeof version !== 'number') {
    throw new Error(`${configPath}: federation_version must be a string`);
  }

  const rawSubgraphs = doc.subgraphs;
  if (!isRecord(rawSubgraphs) || Object.keys(rawSubgraphs).length === 0) {
    throw new Error(`${configPath}: "subgraphs" must be a non-empty mapping of name -> config`);
  }

  const baseDir = dirname(configPath);
  const subgraphs = Object.entries(rawSubgraphs).map(([name, raw]): SubgraphConfig => {
    const where = `${configPath}: subgraph "${name}"`;
    if (!isRecord(raw)) throw new Error(`${where}: expected a mapping with routing_url and schema.file`);

    const routingUrl = raw.routing_url;
    if (typeof routingUrl !== 'string' || routingUrl === '') {
      throw new Error(`${where}: routing_url is missing`);
    }
    if (!isHttpUrl(routingUrl)) {
      throw new Error(`${where}: routing_url "${routingUrl}" is not an http(s) URL`);
    }

    // Rover also accepts subgraph_url/graphref schemas; composing offline needs a file.
    const schema = raw.schema;
    const file = isRecord(schema) ? schema.file : undefined;
    if (typeof file !== 'string' || file === '') {
      throw new Error(`${where}: schema.file is missing (only file-based subgraph schemas are supported)`);
    }
    const schemaFile = resolve(baseDir, file);
    if (!existsSync(schemaFile) || !statSync(schemaFile).isFile()) {
      throw new Error(`${where}: schema.file "${file}" does not exist (resolved to ${schemaFile})`);
    }
    return { name, routingUrl, schemaFile };
  });

  return { federationVersion: version === undefined ? undefined : String(version), subgraphs };
}

/** The client-facing schema: federation internals (join__*, link__*, @inaccessible elements) removed. */
export function apiSchemaSdl(schema: CompositionSuccess['schema']): string {
  return printSchema(schema.toAPISchema().toGraphQLJSSchema());
}

/** Composes the subgraphs listed in a supergraph.yaml; throws listing every composition error. */
export function composeSupergraph(configPath: string = SUPERGRAPH_CONFIG): ComposedSupergraph {
  const { subgraphs } = readSupergraphConfig(configPath);
  const services = subgraphs.map((subgraph) => {
    const sdl = readFileSync(subgraph.schemaFile, 'utf8');
    try {
      return { name: subgraph.name, url: subgraph.routingUrl, typeDefs: parse(sdl) };
    } catch (err) {
      throw new Error(`subgraph "${subgraph.name}" (${subgraph.schemaFile}): ${(err as Error).message}`);
    }
  });

  const result = composeServices(services);
  if (result.errors) {
    const lines = result.errors.map((error) => `  ${String(error.extensions.code ?? 'UNKNOWN')}: ${error.message}`);
    throw new Error(`supergraph composition failed with ${result.errors.length} error(s):\n${lines.join('\n')}`);
  }

  return {
    supergraphSdl: result.supergraphSdl,
    apiSchemaSdl: apiSchemaSdl(result.schema),
    subgraphs,
    hints: result.hints.map((hint) => `${hint.definition.code}: ${hint.message}`),
  };
}

export interface Artifact {
  path: string;
  contents: string;
}

/** The committed files derived from a composition; compose writes them, check compares against them. */
export function artifacts(composed: ComposedSupergraph): Artifact[] {
  const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  return [
    { path: SUPERGRAPH_FILE, contents: withNewline(composed.supergraphSdl) },
    { path: API_SCHEMA_FILE, contents: withNewline(composed.apiSchemaSdl) },
  ];
}
