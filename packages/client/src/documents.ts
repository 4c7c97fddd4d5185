// Trusted documents: each operation goes by its SHA-256 (Apollo's persistedQuery extension), the
// only form the gateway accepts in production; `documents: 'text'` sends the text instead.
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { TatkalError } from './errors.ts';

interface PersistedDocument {
  __meta__?: { hash?: string };
}

/** An operation's trusted-document hash: the hex SHA-256 the gateway's manifest knows it by. */
export function documentHash(document: TypedDocumentNode<unknown, never>): string {
  const hash = (document as PersistedDocument).__meta__?.hash;
  if (!hash) throw new TatkalError('NOT_PERSISTED', 'this document has no persisted-document hash');
  return hash.replace(/^sha256:/, '');
}

export interface Prepared {
  /** What graphql-request sends as `query`: the key the serializer looks the operation up by. */
  key: string;
  /** The document's text (printed once). */
  text: string;
  operationName: string | undefined;
  /** The persistedQuery hash (hex, without the `sha256:` prefix); undefined when sent as text. */
  hash: string | undefined;
}

// Prepared once per document and mode: print() and the operation name are not worked out per request.
const preparedByDocument = new WeakMap<object, { text?: Prepared; hash?: Prepared }>();
const preparedByKey = new Map<string, Prepared>();

export function prepare(document: TypedDocumentNode<unknown, unknown>, mode: 'hash' | 'text'): Prepared {
  let entry = preparedByDocument.get(document);
  if (!entry) {
    entry = {};
    preparedByDocument.set(document, entry);
  }
  const known = entry[mode];
  if (known) return known;
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
  const operationName = operation && 'name' in operation ? operation.name?.value : undefined;
  const text = print(document);
  let prepared: Prepared;
  if (mode === 'text') prepared = { key: text, text, operationName, hash: undefined };
  else {
    const hash = (document as PersistedDocument).__meta__?.hash?.replace(/^sha256:/, '');
    if (!hash)
      throw new TatkalError(
        'NOT_PERSISTED',
        `operation ${operationName ?? '(anonymous)'} has no persisted-document hash: send it as text`,
      );
    prepared = { key: `persisted:${hash}`, text, operationName, hash };
  }
  entry[mode] = prepared;
  preparedByKey.set(prepared.key, prepared);
  return prepared;
}

/**
 * graphql-request's body with the operation's name; in hash mode the persisted form instead: the
 * name, the variables and `extensions.persistedQuery` (Apollo's format, which Hive Gateway reads too).
 */
export const serializer = {
  parse: JSON.parse,
  stringify(value: unknown): string {
    const body = value as { query?: unknown; variables?: unknown };
    const prepared = typeof body?.query === 'string' ? preparedByKey.get(body.query) : undefined;
    if (!prepared) return JSON.stringify(value);
    if (prepared.hash)
      return JSON.stringify({
        operationName: prepared.operationName,
        variables: body.variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: prepared.hash } },
      });
    return JSON.stringify({ query: prepared.text, operationName: prepared.operationName, variables: body.variables });
  },
};
