import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '@tatkal/common';
import type { PaymentContext } from '../src/context.ts';
import { buildPaymentServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { identity } from '../../../test/support/tokens.ts';
import { testLogger } from '../../../test/support/logger.ts';

let db: TestDatabase;
const { server } = buildPaymentServer({ logger: testLogger, production: false });
const ctx = (who: Identity | null): PaymentContext => ({ prisma: db.prisma, identity: who, requestId: 't', log: testLogger });
const owner = identity(randomUUID());
let paymentId: string;

beforeAll(async () => {
  db = await createTestDatabase('payment');
  await server.start();
  const p = await db.prisma.payment.create({
    data: { reservationId: randomUUID(), userId: owner.userId, amountPaise: 245_000, status: 'PENDING', providerRef: `sim_${randomUUID()}`, checkoutUrl: 'http://localhost:4006/checkout/x' },
  });
  paymentId = p.id;
});
afterAll(async () => {
  await server.stop();
  await db?.drop();
});

describe('Payment entity', () => {
  const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Payment { id amountPaise status currency } } }`;

  it('resolves Payment by id for its owner and for an admin', async () => {
    const own = await execute(server, ENTITIES, { r: [{ __typename: 'Payment', id: paymentId }] }, ctx(owner));
    expect(own.errors).toBeUndefined();
    expect(own.data!._entities).toEqual([{ id: paymentId, amountPaise: 245_000, status: 'PENDING', currency: 'INR' }]);
    const admin = await execute(server, ENTITIES, { r: [{ __typename: 'Payment', id: paymentId }] }, ctx(identity(randomUUID(), 'ADMIN')));
    expect(admin.data!._entities[0].id).toBe(paymentId);
  });

  it('does not leak another user\'s payment', async () => {
    const other = await execute(server, ENTITIES, { r: [{ __typename: 'Payment', id: paymentId }] }, ctx(identity(randomUUID())));
    expect(other.data!._entities).toEqual([null]);
    const q = await execute(server, `query($id: ID!) { payment(id: $id) { id } }`, { id: paymentId }, ctx(identity(randomUUID())));
    expect(q.data!.payment).toBeNull();
  });

  it('requires sign-in for payment(id)', async () => {
    const anon = await execute(server, `query($id: ID!) { payment(id: $id) { id } }`, { id: paymentId }, ctx(null));
    expect(errorCodes(anon)).toEqual(['UNAUTHENTICATED']);
  });
});
