// The one input rule every process applies before executing: control characters, broken Unicode
// and impossible dates are BAD_USER_INPUT (400) naming the field; no operation to run is
// BAD_REQUEST (400). Checked through Apollo Server, as the gateway and subgraphs run it.
import assert from 'node:assert';
import { ApolloServer } from '@apollo/server';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { findInputProblem, inputValidationPlugin, isCalendarDate, stringProblem } from './inputs.ts';

// An opaque Date, as the gateway's supergraph has it: the plugin is what checks it there.
const schema = buildSchema(`
  scalar Date
  scalar JSON
  enum Kind { A B }
  input Passenger { name: String!, tags: [String!] }
  input Trip { date: Date, passengers: [Passenger!]!, kind: Kind }
  type Query {
    echo(text: String, id: ID, date: Date, dates: [Date!], any: JSON, n: Int): String
    trip(input: Trip!): String
  }
`);

let calls = 0;
const server = new ApolloServer({
  schema,
  plugins: [inputValidationPlugin()],
  rootValue: {
    echo: () => {
      calls++;
      return 'ok';
    },
    trip: () => {
      calls++;
      return 'ok';
    },
  },
});

async function run(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  const before = calls;
  const res = await server.executeOperation({ query, variables, operationName });
  assert(res.body.kind === 'single');
  return { status: res.http.status ?? 200, body: res.body.singleResult, ran: calls > before };
}

describe('string and date rules', () => {
  it('refuses control characters and lone surrogates, allows joiners and Indic text', () => {
    for (const bad of ['a\u0000b', 'tab\there', 'line\nfeed', '\u007f', '\u0085', 'x\ud800y', '\udc00'])
      expect(stringProblem(bad), JSON.stringify(bad)).not.toBeNull();
    for (const good of ['Asha Rao', 'आशा राव', 'क्‍ष', 'ஸ்ரீ', '😀', "O'Brien", ''])
      expect(stringProblem(good), good).toBeNull();
  });

  it('accepts only dates that exist', () => {
    for (const good of ['2026-12-01', '2028-02-29']) expect(isCalendarDate(good), good).toBe(true);
    for (const bad of ['2026-13-45', '2027-02-30', 'tomorrow', '2026-12-01T10:00:00Z', '2026-1-1', '', 20261201, null])
      expect(isCalendarDate(bad), String(bad)).toBe(false);
  });
});

describe('inputValidationPlugin', () => {
  it('refuses a NUL anywhere in the input: 400 BAD_USER_INPUT naming the field, before any resolver runs', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['{ echo(text: "a\\u0000b") }', {}, 'text'],
      ['query($t: String) { echo(text: $t) }', { t: 'a\u0000b' }, 'text'],
      ['query($i: ID) { echo(id: $i) }', { i: 'x\u001b' }, 'id'],
      [
        'query($t: Trip!) { trip(input: $t) }',
        { t: { passengers: [{ name: 'ok' }, { name: 'Ravi\u0000' }] } },
        'input.passengers[1].name',
      ],
      [
        'query($t: Trip!) { trip(input: $t) }',
        { t: { passengers: [{ name: 'ok', tags: ['a', 'b\n'] }] } },
        'input.passengers[0].tags[1]',
      ],
      [
        'query($n: String!) { trip(input: { passengers: [{ name: $n }] }) }',
        { n: '\u0000' },
        'input.passengers[0].name',
      ],
      ['query($t: String = "d\\u0000") { echo(text: $t) }', {}, 'text'],
      ['query($a: JSON) { echo(any: $a) }', { a: { deep: ['x', { y: 'z\u0000' }] } }, 'any.deep[1].y'],
      ['query Q($t: String) { ...F } fragment F on Query { echo(text: $t) }', { t: '\u0007' }, 'text'],
    ];
    for (const [query, variables, field] of cases) {
      const res = await run(query, variables);
      expect({
        query,
        status: res.status,
        ran: res.ran,
        data: res.body.data,
        errors: res.body.errors?.map((e) => ({ code: e.extensions?.code, field: e.extensions?.field })),
      }).toEqual({
        query,
        status: 400,
        ran: false,
        data: undefined,
        errors: [{ code: 'BAD_USER_INPUT', field }],
      });
    }
  });

  it('refuses impossible dates where the scalar itself would accept anything', async () => {
    for (const [query, variables, field] of [
      ['{ echo(date: "2027-02-30") }', {}, 'date'],
      ['query($d: Date) { echo(date: $d) }', { d: '2026-13-45' }, 'date'],
      ['query($d: Date) { echo(date: $d) }', { d: 'tomorrow' }, 'date'],
      ['query($d: Date) { echo(date: $d) }', { d: '2026-12-01T10:00:00Z' }, 'date'],
      ['query($d: Date) { echo(date: $d) }', { d: 20261201 }, 'date'],
      ['{ echo(dates: ["2026-12-01", "2026-02-29"]) }', {}, 'dates[1]'],
      ['query($t: Trip!) { trip(input: $t) }', { t: { date: '2026-00-10', passengers: [] } }, 'input.date'],
    ] as const) {
      const res = await run(query, variables);
      expect(res.status, query).toBe(400);
      expect(res.ran, query).toBe(false);
      expect(res.body.errors?.[0]?.extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(res.body.errors?.[0]?.message, query).toMatch(/must be a calendar date YYYY-MM-DD/);
    }
  });

  it('lets good values, nulls, enums and numbers through', async () => {
    const ok = await run('query($t: Trip!, $d: Date) { trip(input: $t) echo(date: $d, text: "आशा", n: 3) }', {
      t: { date: '2026-12-01', kind: 'A', passengers: [{ name: 'Asha Rao', tags: null }] },
      d: null,
    });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data).toEqual({ trip: 'ok', echo: 'ok' });
  });

  it('checks only the operation that runs', async () => {
    const res = await run('query A { echo(text: "fine") } query B { echo(text: "bad\\u0000") }', {}, 'A');
    expect(res.body.data).toEqual({ echo: 'ok' });
  });

  it('answers an unknown operationName, or several operations without one, with 400 BAD_REQUEST', async () => {
    const unknown = await run('query A { echo }', {}, 'Nope');
    expect({
      status: unknown.status,
      codes: unknown.body.errors?.map((e) => e.extensions?.code),
      message: unknown.body.errors?.[0]?.message,
    }).toEqual({
      status: 400,
      codes: ['BAD_REQUEST'],
      message: 'Unknown operation named "Nope"',
    });
    const several = await run('query A { echo } query B { echo }');
    expect({ status: several.status, codes: several.body.errors?.map((e) => e.extensions?.code) }).toEqual({
      status: 400,
      codes: ['BAD_REQUEST'],
    });
  });

  it('findInputProblem returns null for a clean operation', () => {
    const doc = parse('query($t: String) { echo(text: $t) }');
    const op = doc.definitions[0] as OperationDefinitionNode;
    expect(findInputProblem(schema, doc, op, { t: 'fine' })).toBeNull();
  });
});
