// Each subgraph's resolver types are committed, like the client's: they must be what codegen makes
// of today's SDL (CI fails on a stale copy here and in `npm run schema:check`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateResolverTypes, staleResolverTypes } from './resolvers.ts';
import { REPO_ROOT } from './supergraph.ts';

const paymentSdl = readFileSync(join(REPO_ROOT, 'subgraphs/payment/src/schema.graphql'), 'utf8');

describe('resolver codegen', () => {
  it('the committed resolver types are what codegen generates from each subgraph schema', async () => {
    expect(await staleResolverTypes()).toEqual([]);
  });

  it('notices a schema change in one subgraph, and only in that one', async () => {
    const changed = paymentSdl.replace('enum RefundStatus {', 'enum RefundStatus {\n  REVERSED');
    expect(changed).not.toBe(paymentSdl);
    expect(await staleResolverTypes(undefined, { payment: changed })).toEqual([
      'subgraphs/payment/src/generated/resolvers.ts',
    ]);
  });

  it('types each subgraph with its own context, federation references and mapped parents', async () => {
    const files = await generateResolverTypes();
    const payment = files.find((f) => f.path.endsWith('subgraphs/payment/src/generated/resolvers.ts'))!.contents;
    expect(payment).toContain("import type { PaymentContext } from '../context.ts';");
    expect(payment).toContain("import type { Payment as PaymentModel, Refund as RefundModel } from '@tatkal/db';");
    expect(payment).toMatch(/__resolveReference\?: ReferenceResolver</);
    expect(files.map((f) => f.path.replace(`${REPO_ROOT}/`, '')).sort()).toEqual([
      'subgraphs/auth/src/generated/resolvers.ts',
      'subgraphs/booking/src/generated/resolvers.ts',
      'subgraphs/payment/src/generated/resolvers.ts',
      'subgraphs/search/src/generated/resolvers.ts',
    ]);
  });
});
