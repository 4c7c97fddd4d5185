// findInputProblem keeps each operation's argument sites (Apollo reuses a cached document's nodes):
// one document checked again and again with other variables, through Apollo Server's document
// cache, must answer each request by its own values, and another schema must not reuse them.
import assert from 'node:assert';
import { ApolloServer } from '@apollo/server';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { findInputProblem, inputValidationPlugin } from './inputs.ts';

const schema = buildSchema(`
  scalar Date
  input Passenger { name: String!, born: Date }
  input Trip { date: Date, passengers: [Passenger!]! }
  type Query { trip(input: Trip!, note: String): String, day(date: Date): String }
`);

const server = new ApolloServer({
  schema,
  plugins: [inputValidationPlugin()],
  rootValue: { trip: () => 'ok', day: () => 'ok' },
});

const QUERY = `query Trip($trip: Trip!, $note: String, $d: Date) {
  trip(input: $trip, note: $note)
  ...Day
}
fragment Day on Query { day(date: $d) }`;

async function codeOf(variables: Record<string, unknown>) {
  const res = await server.executeOperation({ query: QUERY, variables });
  assert(res.body.kind === 'single');
  const error = res.body.singleResult.errors?.[0];
  return error ? [error.extensions?.code, error.extensions?.field] : 'ok';
}

const trip = (name: string, born?: string) => ({ date: '2026-12-08', passengers: [{ name, born }] });

describe('input checks of one cached document', () => {
  it('judge every request by its own variables, in document order', async () => {
    await server.start();
    try {
      expect(await codeOf({ trip: trip('Asha') })).toBe('ok');
      expect(await codeOf({ trip: trip('As\u0000ha') })).toEqual(['BAD_USER_INPUT', 'input.passengers[0].name']);
      expect(await codeOf({ trip: trip('Asha', '2026-02-30') })).toEqual([
        'BAD_USER_INPUT',
        'input.passengers[0].born',
      ]);
      expect(await codeOf({ trip: trip('Asha'), note: '\u0007' })).toEqual(['BAD_USER_INPUT', 'note']);
      // A fragment's argument too; the first problem in document order is the one reported.
      expect(await codeOf({ trip: trip('Asha'), d: '2026-13-01' })).toEqual(['BAD_USER_INPUT', 'date']);
      expect(await codeOf({ trip: trip('\u0000'), d: '2026-13-01' })).toEqual([
        'BAD_USER_INPUT',
        'input.passengers[0].name',
      ]);
      expect(await codeOf({ trip: trip('Asha'), d: '2026-12-31' })).toBe('ok');
    } finally {
      await server.stop();
    }
  });

  it('another schema for the same operation node finds its own argument types', () => {
    const document = parse('query($x: Date) { day(date: $x) }');
    const operation = document.definitions[0] as OperationDefinitionNode;
    expect(findInputProblem(schema, document, operation, { x: '2026-02-30' })?.field).toBe('date');
    // The same argument typed String elsewhere: no calendar rule applies.
    const other = buildSchema('type Query { day(date: String): String }');
    expect(findInputProblem(other, document, operation, { x: '2026-02-30' })).toBeNull();
    expect(findInputProblem(schema, document, operation, { x: '2026-02-30' })?.field).toBe('date');
  });
});
