// Trusted documents at the gateway, over the real subgraphs: in production only the operations of
// the manifest (packages/client/src/gql/persisted-documents.json) run, by hash, and any text is
// refused before it is parsed; in development anything runs, and Apollo's APQ works as usual.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { documentHash, SearchStationsDocument, TatkalClient, TatkalError } from '@tatkal/client';
import { loadGatewayConfig } from '../gateway/src/config.ts';
import { startGatewayService } from '../gateway/src/service.ts';
import { REDIS_URL } from './support/env.ts';
import { testLogger } from './support/logger.ts';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';

let sg: RunningSupergraph;
let production: Awaited<ReturnType<typeof startGatewayService>>;
let prodUrl: string;

beforeAll(async () => {
  sg = await startSupergraph('e2e_trusted_documents');
  // A production gateway in front of the same subgraphs (they verify the token themselves: no shared secret here).
  production = await startGatewayService(
    loadGatewayConfig({
      NODE_ENV: 'production',
      PORT: '0',
      LOG_LEVEL: 'silent',
      REDIS_URL,
      RATE_LIMIT_PREFIX: `rl:trusted:${randomUUID()}:`,
      RATE_LIMIT_IP: '5000/1m',
      RATE_LIMIT_EXPENSIVE: '1000/1m',
      AUTH_JWKS_URL: `${sg.urls.auth}/.well-known/jwks.json`,
      SUPERGRAPH_PATH: new URL('../supergraph.graphql', import.meta.url).pathname,
      AUTH_URL: `${sg.urls.auth}/graphql`,
      BOOKING_URL: `${sg.urls.booking}/graphql`,
      SEARCH_URL: `${sg.urls.search}/graphql`,
      PAYMENT_URL: `${sg.urls.payment}/graphql`,
    }),
    testLogger,
  );
  prodUrl = `${production.url}/graphql`;
});
afterAll(async () => {
  await production?.close();
  await sg?.stop();
});

type Answer = {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions: { code: string } }[] };
};

async function post(url: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}
const codes = (a: Answer) => (a.body.errors ?? []).map((e) => e.extensions.code);
const searchHash = documentHash(SearchStationsDocument);
const search = { operationName: 'SearchStations', variables: { query: 'new delhi', first: 1 } };
const password = 'a long enough passphrase';

describe('in production', () => {
  it('runs the whole booking journey of the typed client, by hash', async () => {
    const client = new TatkalClient({ url: prodUrl });
    const email = `trusted-${randomUUID()}@example.com`;
    await client.register({ email, password, name: 'Asha Rao' });
    expect(client.session?.user?.email).toBe(email);
    expect((await client.searchStations('mumbai central', 1))[0]!.station.code).toBe('MMCT');
    const trains = await client.trainsBetween({
      from: 'MMCT',
      to: 'NDLS',
      date: addDays(todayInIndia(), 3),
      class: 'THIRD_AC',
    });
    const rajdhani = trains.find((t) => t.number === '12951')!;
    expect(rajdhani.run!.availability).toEqual([expect.objectContaining({ code: '3A' })]);
    const held = await client.reserve({
      runId: rajdhani.run!.id,
      from: 'MMCT',
      to: 'NDLS',
      class: 'THIRD_AC',
      passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
    });
    expect(held.status).toBe('HELD');
    expect((await client.reservation(held.pnr))?.status).toBe('HELD');
    expect((await client.myReservations()).nodes.map((r) => r.pnr)).toEqual([held.pnr]);
  });

  it("refuses any text, even a manifest operation's, unparsed and unrun: 400 PERSISTED_QUERY_ID_REQUIRED", async () => {
    const email = `untrusted-${randomUUID()}@example.com`;
    const asText = new TatkalClient({ url: prodUrl, documents: 'text' });
    const refused = await asText.register({ email, password, name: 'Ravi Rao' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TatkalError);
    expect(refused).toMatchObject({ code: 'PERSISTED_QUERY_ID_REQUIRED', status: 400 });
    // The user was not created: signing in by hash does not know them.
    await expect(new TatkalClient({ url: prodUrl }).signIn(email, password)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    for (const query of ['{ __schema { types { name } } }', '{ this is not GraphQL', '{ me { id } }']) {
      const res = await post(prodUrl, { query });
      expect({ status: res.status, codes: codes(res), data: res.body.data }).toEqual({
        status: 400,
        codes: ['PERSISTED_QUERY_ID_REQUIRED'],
        data: undefined,
      });
    }
  });

  it('refuses a hash the manifest does not have, in either form: HTTP 400 PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const unknown = 'ab'.repeat(32);
    for (const body of [
      { ...search, extensions: { persistedQuery: { version: 1, sha256Hash: unknown } } },
      { ...search, documentId: `sha256:${unknown}` },
      { ...search, query: '{ me { id } }', extensions: { persistedQuery: { version: 1, sha256Hash: unknown } } },
    ]) {
      const res = await post(prodUrl, body);
      expect({ status: res.status, codes: codes(res) }).toEqual({
        status: 400,
        codes: ['PERSISTED_QUERY_NOT_IN_LIST'],
      });
    }
  });

  it("accepts a manifest hash as documentId too, and runs the manifest's text whatever text comes along", async () => {
    const byId = await post(prodUrl, { ...search, documentId: `sha256:${searchHash}` });
    expect(byId.status).toBe(200);
    expect(byId.body.data).toEqual({
      searchStations: [expect.objectContaining({ station: expect.objectContaining({ code: 'NDLS' }) })],
    });
    const smuggled = await post(prodUrl, {
      ...search,
      query: '{ __schema { types { name } } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: searchHash } },
    });
    expect(smuggled.body).toEqual(byId.body);
  });

  it('over GET: runs a manifest hash, refuses text', async () => {
    const get = async (params: Record<string, string>) => {
      const res = await fetch(`${prodUrl}?${new URLSearchParams(params)}`, {
        headers: { 'apollo-require-preflight': 'true' },
      });
      return { status: res.status, body: (await res.json()) as Answer['body'] };
    };
    const hashed = await get({
      operationName: 'SearchStations',
      variables: JSON.stringify(search.variables),
      extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: searchHash } }),
    });
    expect(hashed.status).toBe(200);
    expect((hashed.body.data!.searchStations as unknown[]).length).toBe(1);
    const text = await get({ query: '{ __typename }' });
    expect({ status: text.status, codes: codes(text) }).toEqual({
      status: 400,
      codes: ['PERSISTED_QUERY_ID_REQUIRED'],
    });
  });
});

describe('in development', () => {
  it('runs any text, introspection included, and the typed client in either mode', async () => {
    const introspection = await post(sg.gatewayUrl, { query: '{ __schema { queryType { name } } }' });
    expect(introspection.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    for (const documents of ['hash', 'text'] as const) {
      expect(
        (await new TatkalClient({ url: sg.gatewayUrl, documents }).searchStations('ndls', 1))[0]!.station.code,
      ).toBe('NDLS');
    }
  });

  it("keeps Apollo's APQ: an unknown hash is PERSISTED_QUERY_NOT_FOUND until its text is registered", async () => {
    const query = `{ station(code: "NDLS") { name } }`;
    const sha256Hash = (await import('node:crypto')).createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    expect(codes(await post(sg.gatewayUrl, { extensions }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect((await post(sg.gatewayUrl, { query, extensions })).body).toEqual({
      data: { station: { name: 'New Delhi' } },
    });
    expect((await post(sg.gatewayUrl, { extensions })).body).toEqual({ data: { station: { name: 'New Delhi' } } });
  });

  it('serves Apollo Sandbox', async () => {
    const res = await fetch(sg.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/embeddable-sandbox/i);
  });
});
