import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { isCalendarDate } from './inputs.ts';

function parseDate(value: unknown): string {
  if (!isCalendarDate(value)) {
    throw new GraphQLError(`Date must be a calendar date YYYY-MM-DD, got ${JSON.stringify(value)}`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return value;
}

/** `YYYY-MM-DD`; resolvers see a string, the database a DATE. */
export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  serialize: (value) => (value instanceof Date ? value.toISOString().slice(0, 10) : parseDate(value)),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()),
  parseValue: (value) => {
    const d = new Date(String(value));
    if (Number.isNaN(d.getTime()))
      throw new GraphQLError('DateTime must be an ISO-8601 instant', { extensions: { code: 'BAD_USER_INPUT' } });
    return d;
  },
});
