import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashOfDocumentId, parseManifest, trustedDocumentsCache } from '../src/trustedDocuments.ts';

const text = 'query Me { me { id } }';
const hash = createHash('sha256').update(text).digest('hex');

describe('trusted documents manifest', () => {
  it("reads GraphQL Code Generator's manifest and Apollo's, keyed by the hex hash", () => {
    expect([...parseManifest(JSON.stringify({ [`sha256:${hash}`]: text }))]).toEqual([[hash, text]]);
    expect([
      ...parseManifest(
        JSON.stringify({
          format: 'apollo-persisted-query-manifest',
          version: 1,
          operations: [{ id: hash, name: 'Me', type: 'query', body: text }],
        }),
      ),
    ]).toEqual([[hash, text]]);
    expect(hashOfDocumentId(`sha256:${hash.toUpperCase()}`)).toBe(hash);
  });

  it('refuses a manifest with an id that is not a SHA-256 or an entry without a document', () => {
    expect(() => parseManifest(JSON.stringify({ 'md5:abc': text }), 'm.json')).toThrow(
      /m\.json: "md5:abc" is not a SHA-256 id/,
    );
    expect(() => parseManifest(JSON.stringify({ [hash]: '' }))).toThrow(/not a SHA-256 id with a document/);
  });
});

describe("trusted documents as Apollo's APQ cache", () => {
  const manifest = new Map([[hash, text]]);

  it("answers a manifest hash under Apollo's apq: prefix, and never replaces it", async () => {
    const cache = trustedDocumentsCache(manifest, { maxEntries: 10 });
    expect(await cache.get(`apq:${hash}`)).toBe(text);
    await cache.set(`apq:${hash}`, '{ __typename }');
    expect(await cache.get(`apq:${hash}`)).toBe(text);
  });

  it('keeps other registrations (development), at most maxEntries, oldest out first', async () => {
    const cache = trustedDocumentsCache(manifest, { maxEntries: 2 });
    for (const n of [1, 2, 3]) await cache.set(`apq:${n}`, `q${n}`);
    expect([await cache.get('apq:1'), await cache.get('apq:2'), await cache.get('apq:3')]).toEqual([
      undefined,
      'q2',
      'q3',
    ]);
  });

  it('keeps no registration when only trusted documents run', async () => {
    const cache = trustedDocumentsCache(manifest, null);
    await cache.set('apq:1', '{ __typename }');
    expect(await cache.get('apq:1')).toBeUndefined();
  });
});
