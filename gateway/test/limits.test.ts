import { ApolloServer } from '@apollo/server';
import { buildSchema, getOperationAST, parse, validate, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  armorValidationRules,
  checkCost,
  limitErrorCode,
  queryTooComplex,
  rootFieldCounts,
  sourceLimitCheck,
  type QueryLimits,
} from '../src/limits.ts';

const typeDefs = `
  type Query { me: User, stations(limit: Int): [Station!]!, node(id: ID!): Node }
  type Mutation {
    reserveSeats(key: String!): Boolean!, createPayment(id: ID!): Boolean!, login(email: String!): Boolean!
  }
  interface Node { id: ID! }
  type User implements Node { id: ID!, name: String!, friends(first: Int): [User!]!, best: User }
  type Station implements Node { id: ID!, code: String!, trains: [Train!]! }
  type Train { number: String!, stops: [Station!]! }
`;
const schema = buildSchema(typeDefs);

const limits: QueryLimits = { maxDepth: 5, maxAliases: 3, maxTokens: 200, maxCost: 100, defaultListSize: 10 };
const checkSource = sourceLimitCheck(limits);

/** What Armor's rules report on a parsed document (the other validation rules left out). */
function validationCheck(query: string) {
  return validate(schema, parse(query), armorValidationRules(limits)).map((e) => {
    const { http: _http, ...extensions } = e.extensions;
    return { message: e.message, ...extensions };
  });
}

function costCheck(query: string, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  return checkCost(schema, document, getOperationAST(document)!, variables, limits);
}

// `depth` levels of fields: me, best..., id.
const nested = (depth: number) => `{ me ${'{ best '.repeat(depth - 2)}{ id }${' }'.repeat(depth - 2)} }`;

describe('limits on the query text (before Apollo parses it)', () => {
  it('passes an ordinary query', async () => {
    expect(await checkSource('query Q($n: Int) { stations(limit: $n) { code trains { number } } }')).toBeNull();
  });

  it("refuses too many tokens (Armor's count)", async () => {
    expect(await checkSource(`{ ${'me { id } '.repeat(60)} }`)).toEqual({ limit: 'tokens', max: 200 });
    expect(await checkSource(`{ ${'me { id } '.repeat(49)} }`)).toBeNull();
  });

  it('refuses nesting deeper than the limit, even 10,000 levels, without recursion', async () => {
    expect(await checkSource(nested(5))).toBeNull();
    expect(await checkSource(nested(6))).toEqual({ limit: 'depth', max: 5 });
    const huge = `{ a ${'{ a '.repeat(10_000)}${'} '.repeat(10_001)}`;
    expect(await checkSource(huge)).toEqual({ limit: 'depth', max: 5 });
    expect(await sourceLimitCheck({ ...limits, maxTokens: 1_000_000 })(huge)).toEqual({ limit: 'depth', max: 5 });
  });

  it('names the limit passed first: nesting within the token limit, else tokens', async () => {
    const tokensFirst = `{ me { ${'id '.repeat(200)} best { best { best { best { id } } } } } }`;
    expect(await checkSource(tokensFirst)).toEqual({ limit: 'tokens', max: 200 });
  });

  it('does not count braces of input objects in arguments as nesting', async () => {
    const q = 'mutation { reserveSeats(key: "k", input: { a: { b: { c: { d: { e: 1 } } } } }) }';
    expect(await checkSource(q)).toBeNull();
  });

  it('leaves text that does not parse to the parser', async () => {
    expect(await checkSource('{ me { id } " unterminated')).toBeNull();
    expect(await checkSource('{ me { id } } }')).toBeNull();
  });
});

describe('limits on the parsed document (Armor, in validation)', () => {
  it('counts depth through fragments, not counting them as levels', () => {
    expect(validationCheck(nested(5))).toEqual([]);
    expect(validationCheck(nested(6))).toMatchObject([{ code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 5 }]);
    const viaFragments = `{ me { ...A } }
      fragment A on User { best { ...B } }
      fragment B on User { best { best { best { best { id } } } } }`;
    expect(validationCheck(viaFragments)).toEqual([
      {
        message: 'The query exceeds the nesting depth limit of 5',
        code: 'QUERY_TOO_COMPLEX',
        limit: 'depth',
        max: 5,
      },
    ]);
    const inline =
      '{ me { ... on User { best { ...B } } } } fragment B on User { best { ... on User { best { id } } } }';
    expect(validationCheck(inline)).toEqual([]);
  });

  it('counts aliases, also those a fragment repeats and aliased __typename', () => {
    expect(validationCheck('{ a: me { id } b: me { id } c: me { id } }')).toEqual([]);
    expect(validationCheck('{ a: me { id } b: me { id } c: me { id } d: me { id } }')).toMatchObject([
      {
        code: 'QUERY_TOO_COMPLEX',
        limit: 'aliases',
        max: 3,
        message: 'The query exceeds the number of aliases limit of 3',
      },
    ]);
    expect(validationCheck('{ me { ...F } x: me { ...F } } fragment F on User { p: id q: name }')).toMatchObject([
      { code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 3 },
    ]);
    expect(validationCheck('{ a: __typename b: __typename c: __typename d: __typename }')).toMatchObject([
      { code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 3 },
    ]);
  });

  it('does not count the depth of introspection', () => {
    const introspection = '{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }';
    expect(validationCheck(introspection)).toEqual([]);
  });

  it('answers QUERY_TOO_COMPLEX, HTTP 400, through Apollo, nothing resolved', async () => {
    let resolved = 0;
    const server = new ApolloServer({
      typeDefs,
      resolvers: {
        Query: {
          me: () => {
            resolved++;
            return { id: '1', name: 'A' };
          },
        },
      },
      validationRules: armorValidationRules(limits),
      formatError: (formatted: GraphQLFormattedError, error: unknown) => limitErrorCode(formatted, error),
      includeStacktraceInErrorResponses: false,
    });
    await server.start();
    try {
      const res = await server.executeOperation({ query: '{ a: me { id } b: me { id } c: me { id } d: me { id } }' });
      expect(res.http.status).toBe(400);
      expect(res.body.kind === 'single' && res.body.singleResult).toEqual({
        errors: [
          {
            message: 'The query exceeds the number of aliases limit of 3',
            extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 3 },
          },
        ],
      });
      // Other validation errors keep Apollo's code.
      const unknown = await server.executeOperation({ query: '{ nope }' });
      expect(unknown.body.kind === 'single' && unknown.body.singleResult.errors?.[0]?.extensions?.code).toBe(
        'GRAPHQL_VALIDATION_FAILED',
      );
      expect(resolved).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe('cost estimate (hand-written: Armor has no schema-aware cost)', () => {
  it('prices list fields by their first/limit argument or the default size', () => {
    // 1 (stations) + 10 codes = 11
    expect(costCheck('{ stations { code } }')).toBeNull();
    // 1 + 10 trains + 10*10 numbers: over 100
    expect(costCheck('{ stations { trains { number } } }')).toEqual({ limit: 'cost', max: 100 });
    expect(costCheck('{ stations(limit: 2) { trains { number } } }')).toBeNull();
    expect(costCheck('query($n: Int) { stations(limit: $n) { trains { number } } }', { n: 50 })).toEqual({
      limit: 'cost',
      max: 100,
    });
    expect(costCheck('{ me { friends(first: 3) { friends(first: 3) { name } } } }')).toBeNull();
  });

  it('does not price introspection', () => {
    expect(
      costCheck('{ __schema { types { fields { name type { name ofType { name ofType { name } } } } } } }'),
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
