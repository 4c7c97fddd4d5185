// Apollo Gateway reports anonymous usage metrics to Apollo unless APOLLO_TELEMETRY_DISABLED is
// set, probing cloud metadata endpoints at start to describe the host. This gateway keeps that off
// unless an operator turns it on.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { testLogger } from '../../test/support/logger.ts';
import { buildGateway } from '../src/server.ts';

const supergraphSdl = readFileSync(new URL('../../supergraph.graphql', import.meta.url), 'utf8');
const build = () =>
  buildGateway({
    supergraphSdl,
    logger: testLogger,
    production: true,
    verifyToken: async () => null,
  });
const saved = process.env.APOLLO_TELEMETRY_DISABLED;

afterEach(() => {
  if (saved === undefined) delete process.env.APOLLO_TELEMETRY_DISABLED;
  else process.env.APOLLO_TELEMETRY_DISABLED = saved;
});

describe("Apollo's usage telemetry", () => {
  it('is off by default', () => {
    delete process.env.APOLLO_TELEMETRY_DISABLED;
    build();
    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
  });

  it("leaves an operator's own setting alone", () => {
    // ('1' is Apollo's other spelling of off: 'false' would switch the reporting on in this test.)
    process.env.APOLLO_TELEMETRY_DISABLED = '1';
    build();
    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('1');
  });
});
