// The client's generated code is committed, like supergraph.graphql: it must be what codegen makes
// of today's API schema (CI fails on a stale copy here and in `npm run schema:check`), and its
// manifest must be what the gateway can trust.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeSupergraph, REPO_ROOT, SUPERGRAPH_CONFIG } from '../../../schema-checks/supergraph.ts';
import { generateClient, MANIFEST_FILE, staleClientFiles } from '../codegen.ts';
import * as generated from '../src/gql/graphql.ts';
import { documentHash } from '../src/index.ts';

const apiSchema = composeSupergraph(SUPERGRAPH_CONFIG).apiSchemaSdl;
const manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as Record<string, string>;

describe('client codegen', () => {
  it('the committed output is what codegen generates from the composed API schema', async () => {
    expect(await staleClientFiles(apiSchema)).toEqual([]);
  });

  it('notices a schema change that changes the generated types', async () => {
    const changed = apiSchema.replace(/enum ReservationStatus \{/, 'enum ReservationStatus {\n  ON_HOLD_AT_COUNTER');
    expect(changed).not.toBe(apiSchema);
    expect(await staleClientFiles(changed)).toEqual(['packages/client/src/gql/graphql.ts']);
  });

  it('fails when an operation no longer fits the schema', async () => {
    await expect(generateClient(apiSchema.replace('queuePosition: Int', 'queueSlot: Int'))).rejects.toThrow(
      /queuePosition/,
    );
  });

  it('lists every operation of the booking app in the manifest, each id the SHA-256 of its text', () => {
    const names = Object.values(manifest).map((text) => /\b(?:query|mutation) (\w+)/.exec(text)?.[1]);
    expect(names.sort()).toEqual(
      [
        'Availability',
        'CancelReservation',
        'CancellationQuote',
        'Me',
        'MyPayments',
        'MyReservations',
        'Pay',
        'Payment',
        'RefreshSession',
        'Register',
        'RequestIdentityCode',
        'Reservation',
        'ReservationStatus',
        'ReserveSeats',
        'SearchStations',
        'SearchTrains',
        'SeatMap',
        'SignIn',
        'SignOut',
        'TrainStops',
        'TrainsBetween',
        'VerifyIdentity',
      ].sort(),
    );
    for (const [id, text] of Object.entries(manifest))
      expect(id).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
  });

  it('embeds in each typed document the hash the manifest lists it under', () => {
    const documents = Object.entries(generated).filter(([name]) => name.endsWith('Document'));
    expect(documents).toHaveLength(Object.keys(manifest).length);
    for (const [name, document] of documents)
      expect(manifest[`sha256:${documentHash(document as never)}`], name).toBeDefined();
    expect(relative(REPO_ROOT, MANIFEST_FILE)).toBe('packages/client/src/gql/persisted-documents.json');
  });
});
