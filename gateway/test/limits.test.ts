import { buildSchema, getOperationAST, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkOperation, checkSource, queryTooComplex, rootFieldCounts, type QueryLimits } from '../src/limits.ts';

const schema = buildSchema(`
  type Query { me: User, stations(limit: Int): [Station!]!, node(id: ID!): Node }
  type Mutation {
    reserveSeats(key: String!): Boolean!, createPayment(id: ID!): Boolean!, login(email: String!): Boolean!
  }
  interface Node { id: ID! }
  type User implements Node { id: ID!, name: String!, friends(first: Int): [User!]!, best: User }
  type Station implements Node { id: ID!, code: String!, trains: [Train!]! }
  type Train { number: String!, stops: [Station!]! }
`);

const limits: QueryLimits = { maxDepth: 5, maxAliases: 3, maxTokens: 200, maxCost: 100, defaultListSize: 10 };

function operationCheck(query: string, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  return checkOperation(schema, document, getOperationAST(document)!, variables, limits);
}

// `depth` levels of fields: me, best..., id.
const nested = (depth: number) => `{ me ${'{ best '.repeat(depth - 2)}{ id }${' }'.repeat(depth - 2)} }`;

describe('limits on the query text (before parsing)', () => {
  it('passes an ordinary query', () => {
    expect(checkSource('query Q($n: Int) { stations(limit: $n) { code trains { number } } }', limits)).toBeNull();
  });

  it('refuses too many tokens, counting without parsing', () => {
    expect(checkSource(`{ ${'me { id } '.repeat(60)} }`, limits)).toEqual({ limit: 'tokens', max: 200 });
  });

  it('refuses nesting deeper than the limit, even 10,000 levels, without recursion', () => {
    expect(checkSource(nested(5), limits)).toBeNull();
    expect(checkSource(nested(6), limits)).toEqual({ limit: 'depth', max: 5 });
    const huge = `{ a ${'{ a '.repeat(10_000)}${'} '.repeat(10_001)}`;
    expect(checkSource(huge, { ...limits, maxTokens: 1_000_000 })).toEqual({ limit: 'depth', max: 5 });
  });

  it('does not count braces of input objects in arguments as nesting', () => {
    const q = 'mutation { reserveSeats(key: "k", input: { a: { b: { c: { d: { e: 1 } } } } }) }';
    expect(checkSource(q, limits)).toBeNull();
  });

  it('leaves text the lexer rejects to the parser', () => {
    expect(checkSource('{ me { id } " unterminated', limits)).toBeNull();
  });
});

describe('limits on the parsed operation', () => {
  it('counts depth through fragments', () => {
    expect(operationCheck(nested(5))).toBeNull();
    const viaFragments = `{ me { ...A } }
      fragment A on User { best { ...B } }
      fragment B on User { best { best { best { best { id } } } } }`;
    expect(checkSource(viaFragments, limits)).toBeNull();
    expect(operationCheck(viaFragments)).toEqual({ limit: 'depth', max: 5 });
  });

  it('counts aliases, also those a fragment repeats', () => {
    expect(operationCheck('{ a: me { id } b: me { id } c: me { id } }')).toBeNull();
    expect(operationCheck('{ a: me { id } b: me { id } c: me { id } d: me { id } }')).toEqual({
      limit: 'aliases',
      max: 3,
    });
    expect(operationCheck('{ me { ...F } x: me { ...F } } fragment F on User { p: id q: name }')).toEqual({
      limit: 'aliases',
      max: 3,
    });
  });

  it('prices list fields by their first/limit argument or the default size', () => {
    // 1 (stations) + 10 codes = 11
    expect(operationCheck('{ stations { code } }')).toBeNull();
    // 1 + 10 trains + 10*10 numbers: over 100
    expect(operationCheck('{ stations { trains { number } } }')).toEqual({ limit: 'cost', max: 100 });
    expect(operationCheck('{ stations(limit: 2) { trains { number } } }')).toBeNull();
    expect(operationCheck('query($n: Int) { stations(limit: $n) { trains { number } } }', { n: 50 })).toEqual({
      limit: 'cost',
      max: 100,
    });
    expect(operationCheck('{ me { friends(first: 3) { friends(first: 3) { name } } } }')).toBeNull();
  });

  it('does not price introspection', () => {
    expect(
      operationCheck('{ __schema { types { fields { name type { name ofType { name ofType { name } } } } } } }'),
    ).toBeNull();
  });

  it('gives QUERY_TOO_COMPLEX with the limit named, HTTP 400', () => {
    const err = queryTooComplex({ limit: 'depth', max: 12 });
    expect(err.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 12, http: { status: 400 } });
    expect(err.message).toBe('The query exceeds the nesting depth limit of 12');
  });
});

describe('root fields of an operation (what per-user limits count)', () => {
  it('counts fields by name, through aliases and fragments, whatever the operation is called', () => {
    const document = parse(`
      mutation Harmless {
        a: reserveSeats(key: "1") b: reserveSeats(key: "2") ...More ... on Mutation { createPayment(id: "p") }
      }

      fragment More on Mutation { reserveSeats(key: "3") login(email: "x") }`);
    const counts = rootFieldCounts(document, getOperationAST(document)!);
    expect(Object.fromEntries(counts)).toEqual({ reserveSeats: 3, createPayment: 1, login: 1 });
  });
});
