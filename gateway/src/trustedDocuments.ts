// Trusted documents: the operations the project's own apps send, as GraphQL Code Generator's
// persisted-documents manifest lists them (packages/client/src/gql/persisted-documents.json:
// "sha256:<hex>" -> document text). Clients send the hash instead of the text, as Apollo's APQ
// extension (`extensions.persistedQuery.sha256Hash`) or a top-level `documentId` (the GraphQL over
// HTTP proposal; Hive's and codegen's default).
//
// - Every mode: Apollo Server's APQ cache answers manifest hashes from the manifest, so a hash is
//   looked up (no SHA-256 of a text, no parse: Apollo caches the validated document by that hash).
// - Trusted-documents-only mode (production by default): Express middleware in front of Apollo
//   accepts only manifest hashes. Text without a hash is PERSISTED_QUERY_ID_REQUIRED, an unknown
//   hash PERSISTED_QUERY_NOT_IN_LIST, both HTTP 400 before anything is parsed; a known hash sent
//   with text runs the manifest's text, never the client's.
// - Otherwise (development, tests): any operation, and APQ registrations, as Apollo does by default.
import { readFileSync } from 'node:fs';
import type { PersistedQueryOptions } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import { ErrorCode, untrustedDocumentRejections, type Logger } from '@tatkal/common';

/** Hash (lower-case hex SHA-256, no prefix) -> document text. */
export type TrustedDocumentManifest = ReadonlyMap<string, string>;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The hex hash of an id in any accepted spelling: "sha256:<hex>" or "<hex>". */
export function hashOfDocumentId(id: string): string {
  const hash = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return hash.toLowerCase();
}

/** Parses a codegen persisted-documents manifest (or Apollo's { operations: [{ id, body }] }). */
export function parseManifest(json: string, source = 'manifest'): TrustedDocumentManifest {
  const doc = JSON.parse(json) as unknown;
  const entries: [string, unknown][] =
    doc && typeof doc === 'object' && Array.isArray((doc as { operations?: unknown }).operations)
      ? (doc as { operations: { id?: unknown; body?: unknown }[] }).operations.map((o) => [String(o.id), o.body])
      : Object.entries(doc as Record<string, unknown>);
  const manifest = new Map<string, string>();
  for (const [id, text] of entries) {
    const hash = hashOfDocumentId(id);
    if (!HEX_SHA256.test(hash) || typeof text !== 'string' || !text.trim())
      throw new Error(`${source}: "${id}" is not a SHA-256 id with a document`);
    manifest.set(hash, text);
  }
  return manifest;
}

export function loadManifest(path: string): TrustedDocumentManifest {
  return parseManifest(readFileSync(path, 'utf8'), path);
}

type KeyValueCache = NonNullable<PersistedQueryOptions['cache']>;

const APQ_PREFIX = 'apq:';

/**
 * Apollo Server's `persistedQueries.cache`: manifest hashes from the manifest (read-only), other
 * APQ registrations in a small bounded map when `registrations` is set (none in trusted-only mode).
 */
export function trustedDocumentsCache(
  manifest: TrustedDocumentManifest,
  registrations: { maxEntries: number } | null,
): KeyValueCache {
  const registered = new Map<string, string>();
  const hashOf = (key: string) => (key.startsWith(APQ_PREFIX) ? key.slice(APQ_PREFIX.length) : key);
  return {
    async get(key) {
      return manifest.get(hashOf(key)) ?? registered.get(key);
    },
    async set(key, value) {
      if (!registrations || manifest.has(hashOf(key))) return;
      // Oldest first out: a Map iterates in insertion order.
      if (registered.size >= registrations.maxEntries) registered.delete(registered.keys().next().value!);
      registered.set(key, value);
    },
    async delete(key) {
      registered.delete(key);
      return true;
    },
  };
}

interface OperationBody {
  query?: unknown;
  documentId?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown; version?: unknown } } & Record<string, unknown>;
}

function refuse(res: Response, code: string, message: string) {
  res.status(400).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * Express middleware after the JSON body is read, before Apollo: a `documentId` becomes Apollo's
 * persistedQuery extension (every mode); in trusted-only mode anything but a manifest hash is
 * refused, and a manifest hash's own text replaces whatever text came with it.
 */
export function trustedDocuments(opts: { manifest: TrustedDocumentManifest; only: boolean; logger: Logger }) {
  const { manifest, only } = opts;
  /** An error [code, message] or null; rewrites the operation in place. */
  const check = (operation: OperationBody): [string, string] | null => {
    if (!operation || typeof operation !== 'object') return null;
    let hash: string | undefined;
    if (typeof operation.documentId === 'string') {
      hash = hashOfDocumentId(operation.documentId);
      operation.extensions = { ...operation.extensions, persistedQuery: { version: 1, sha256Hash: hash } };
      delete operation.documentId;
    } else if (typeof operation.extensions?.persistedQuery?.sha256Hash === 'string') {
      hash = operation.extensions.persistedQuery.sha256Hash;
    }
    if (!only) return null;
    if (hash === undefined) {
      // Nothing to run at all: Apollo's BAD_REQUEST says so.
      if (operation.query === undefined) return null;
      untrustedDocumentRejections.inc({ reason: 'id_required' });
      return [
        ErrorCode.PERSISTED_QUERY_ID_REQUIRED,
        "This API runs only the operations of its own apps: send the operation's persisted-document hash " +
          '(extensions.persistedQuery.sha256Hash or documentId), not its text',
      ];
    }
    if (!manifest.has(hash)) {
      untrustedDocumentRejections.inc({ reason: 'not_in_list' });
      return [
        ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
        "The persisted document is not in this API's list of trusted documents",
      ];
    }
    // The manifest's text runs (Apollo reads it from the APQ cache by the hash): never the client's.
    delete operation.query;
    operation.extensions!.persistedQuery = { version: 1, sha256Hash: hash };
    return null;
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'POST') {
      const body: unknown = req.body;
      for (const operation of Array.isArray(body) ? body : [body]) {
        const refusal = check(operation as OperationBody);
        if (refusal) return refuse(res, ...refusal);
      }
      return next();
    }
    if (req.method === 'GET' && only) {
      // GET carries queries only, in the URL: the APQ extension as JSON (Apollo's GET form).
      const query = req.query as Record<string, unknown>;
      let hash: unknown;
      try {
        hash =
          typeof query.extensions === 'string'
            ? (JSON.parse(query.extensions) as OperationBody['extensions'])?.persistedQuery?.sha256Hash
            : undefined;
      } catch {
        hash = undefined;
      }
      if (typeof hash === 'string') {
        if (manifest.has(hash) && query.query === undefined) return next();
        if (!manifest.has(hash)) {
          untrustedDocumentRejections.inc({ reason: 'not_in_list' });
          return refuse(
            res,
            ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
            "The persisted document is not in this API's list of trusted documents",
          );
        }
      }
      if (query.query !== undefined || query.documentId !== undefined) {
        untrustedDocumentRejections.inc({ reason: 'id_required' });
        return refuse(
          res,
          ErrorCode.PERSISTED_QUERY_ID_REQUIRED,
          'This API runs only the operations of its own apps: ' +
            'send extensions={"persistedQuery":{"version":1,"sha256Hash":"…"}} without the text (or POST)',
        );
      }
    }
    next();
  };
}
