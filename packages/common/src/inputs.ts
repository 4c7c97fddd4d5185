// One check of every value a client sends, run after validation and before anything executes, at
// the gateway (before planning: no subgraph is called) and in every subgraph (a request that
// reaches one directly meets the same rule). Every string in an argument, a variable or an input
// field, at any depth: no control characters (PostgreSQL refuses NUL with 22021, and none of them
// belong in a name, a code or a token) and no lone UTF-16 surrogates. Every `Date`: a real
// calendar date, also where the supergraph's opaque scalar would let anything through.
import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  getNullableType,
  GraphQLError,
  isInputObjectType,
  isListType,
  isScalarType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import { AppError, ErrorCode } from './errors.ts';

/** C0 and C1 control characters and DEL (Unicode category Cc); format characters such as ZWJ are allowed. */
const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function stringProblem(value: string): string | null {
  if (CONTROL.test(value)) return 'must not contain control characters (U+0000 to U+001F, U+007F to U+009F)';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode text';
  return null;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `YYYY-MM-DD` naming a day that exists (no 2027-02-30, no month 13). */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string' || !DATE.test(value)) return false;
  const at = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === value;
}

/** Scalars whose values are checked here by name, as every subgraph's own scalar would. */
const SCALAR_RULES: Record<string, (value: unknown) => string | null> = {
  Date: (value) => (isCalendarDate(value) ? null : `must be a calendar date YYYY-MM-DD, got ${JSON.stringify(value)}`),
};

export interface InputProblem {
  /** Where: the argument, then input fields and list indexes, e.g. `input.passengers[0].name`. */
  field: string;
  message: string;
}

/**
 * The first value in `operation` (and the fragments it may use) that breaks the rules above, or
 * null. Runs on a document that passed validation; values of the wrong shape are left to
 * GraphQL's own coercion.
 */
export function findInputProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): InputProblem | null {
  const definitions = new Map<string, VariableDefinitionNode>(
    (operation.variableDefinitions ?? []).map((d) => [d.variable.name.value, d]),
  );
  let problem: InputProblem | null = null;

  const fail = (field: string, message: string) => {
    problem = { field, message: `${field} ${message}` };
    return true;
  };

  function checkScalar(value: unknown, typeName: string, field: string): boolean {
    const rule = SCALAR_RULES[typeName];
    if (rule && value !== null && value !== undefined) {
      const message = rule(value);
      if (message) return fail(field, message);
    }
    return checkStrings(value, field);
  }

  // Strings anywhere inside a scalar's value (custom scalars such as _Any carry objects).
  function checkStrings(value: unknown, field: string): boolean {
    if (typeof value === 'string') {
      const message = stringProblem(value);
      return message ? fail(field, message) : false;
    }
    if (Array.isArray(value)) return value.some((v, i) => checkStrings(v, `${field}[${i}]`));
    if (value && typeof value === 'object')
      return Object.entries(value).some(([k, v]) => checkStrings(v, `${field}.${k}`));
    return false;
  }

  function checkValue(value: unknown, type: GraphQLInputType, field: string): boolean {
    if (value === null || value === undefined) return false;
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      const item = nullable.ofType as GraphQLInputType;
      return Array.isArray(value)
        ? value.some((v, i) => checkValue(v, item, `${field}[${i}]`))
        : checkValue(value, item, field);
    }
    if (isInputObjectType(nullable)) {
      if (typeof value !== 'object' || Array.isArray(value)) return false;
      const fields = nullable.getFields();
      return Object.entries(value as Record<string, unknown>).some(
        ([k, v]) => fields[k] !== undefined && checkValue(v, fields[k]!.type, `${field}.${k}`),
      );
    }
    if (isScalarType(nullable)) return checkScalar(value, nullable.name, field);
    return false; // enums: coercion checks them
  }

  function checkLiteral(node: ValueNode, type: GraphQLInputType, field: string): boolean {
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      if (name in variables) return checkValue(variables[name], type, field);
      const fallback = definitions.get(name)?.defaultValue;
      return fallback ? checkLiteral(fallback, type, field) : false;
    }
    if (node.kind === Kind.NULL) return false;
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      const item = nullable.ofType as GraphQLInputType;
      return node.kind === Kind.LIST
        ? node.values.some((v, i) => checkLiteral(v, item, `${field}[${i}]`))
        : checkLiteral(node, item, field);
    }
    if (isInputObjectType(nullable)) {
      if (node.kind !== Kind.OBJECT) return false;
      const fields = nullable.getFields();
      return node.fields.some(
        (f) =>
          fields[f.name.value] !== undefined &&
          checkLiteral(f.value, fields[f.name.value]!.type, `${field}.${f.name.value}`),
      );
    }
    if (isScalarType(nullable)) return checkScalar(literalValue(node, variables), nullable.name, field);
    return false;
  }

  for (const site of argumentSites(schema, document, operation))
    if (checkLiteral(site.value, site.type, site.name)) break;
  return problem;
}

interface ArgumentSite {
  name: string;
  value: ValueNode;
  type: GraphQLInputType;
}

/** Per operation (Apollo reuses a cached document's nodes): its arguments with their input types, in document order. */
const sitesOf = new WeakMap<OperationDefinitionNode, { schema: GraphQLSchema; sites: ArgumentSite[] }>();

function argumentSites(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): ArgumentSite[] {
  const known = sitesOf.get(operation);
  if (known?.schema === schema) return known.sites;
  const sites: ArgumentSite[] = [];
  const typeInfo = new TypeInfo(schema);
  const checked = {
    ...document,
    definitions: document.definitions.filter((d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION),
  };
  visit(
    checked,
    visitWithTypeInfo(typeInfo, {
      // A variable's default value is checked where the variable is used.
      Argument(node) {
        const type = typeInfo.getInputType();
        if (type) sites.push({ name: node.name.value, value: node.value, type });
        return false;
      },
    }),
  );
  sitesOf.set(operation, { schema, sites });
  return sites;
}

/** A literal as plain JSON (variables inside lists or objects of a custom scalar resolved). */
function literalValue(node: ValueNode, variables: Record<string, unknown>): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => literalValue(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literalValue(f.value, variables)]));
    case Kind.VARIABLE:
      return variables[node.name.value];
  }
}

const badRequest = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });

/**
 * Apollo plugin: no operation to run (an unknown `operationName`, or several operations and no
 * name) is 400 BAD_REQUEST, where Apollo's gateway path answered 500; a value that breaks the
 * rules above is 400 BAD_USER_INPUT with `extensions.field`. Nothing has executed either way.
 */
export function inputValidationPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) {
            const named = request.operationName;
            throw badRequest(
              named
                ? `Unknown operation named "${named}"`
                : 'The document has several operations: name the one to run in operationName',
            );
          }
          const problem = findInputProblem(schema, document, operation, request.variables ?? {});
          if (problem) {
            throw new AppError(ErrorCode.BAD_USER_INPUT, problem.message, {
              field: problem.field,
              http: { status: 400, headers: new HeaderMap() },
            });
          }
        },
      };
    },
  };
}
