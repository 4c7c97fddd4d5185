// Query limits, checked before any subgraph is called:
// 1. on the raw text, before parsing (so a 10,000-deep query is never parsed recursively):
//    token count and selection-set nesting;
// 2. on the parsed operation, fragments expanded: depth, aliases and a cost estimate (every field
//    costs 1, times the sizes of the lists it sits in: `first`/`limit` arguments or a default).
// A request over a limit gets QUERY_TOO_COMPLEX (HTTP 400) and nothing runs.
import {
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { HeaderMap } from '@apollo/server';
import { AppError, ErrorCode } from '@tatkal/common';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  /** Assumed length of a list field without a `first`/`limit` argument. */
  defaultListSize: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 3000,
  maxCost: 5000,
  defaultListSize: 10,
};

export type LimitName = 'depth' | 'aliases' | 'tokens' | 'cost';

export interface LimitViolation {
  limit: LimitName;
  max: number;
}

class Exceeded extends Error {
  constructor(readonly violation: LimitViolation) {
    super(violation.limit);
  }
}

/**
 * Counts tokens and selection-set nesting on the text alone (graphql's lexer, no recursion).
 * Braces inside parentheses are input objects (arguments, default values), not selections.
 * Text the lexer rejects is left for the parser to report (GRAPHQL_PARSE_FAILED).
 */
export function checkSource(source: string, limits: QueryLimits): LimitViolation | null {
  const lexer = new Lexer(new Source(source));
  let tokens = 0;
  let braces = 0;
  let parens = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (++tokens > limits.maxTokens) return { limit: 'tokens', max: limits.maxTokens };
      if (token.kind === TokenKind.PAREN_L) parens++;
      else if (token.kind === TokenKind.PAREN_R) parens = Math.max(0, parens - 1);
      else if (parens === 0 && token.kind === TokenKind.BRACE_L) {
        if (++braces > limits.maxDepth) return { limit: 'depth', max: limits.maxDepth };
      } else if (parens === 0 && token.kind === TokenKind.BRACE_R) braces = Math.max(0, braces - 1);
    }
  } catch (err) {
    if (err instanceof GraphQLError) return null;
    throw err;
  }
  return null;
}

const LIST_SIZE_ARGS = new Set(['first', 'last', 'limit']);

function listSize(field: FieldNode, variables: Record<string, unknown>, fallback: number): number {
  for (const arg of field.arguments ?? []) {
    if (!LIST_SIZE_ARGS.has(arg.name.value)) continue;
    const value =
      arg.value.kind === Kind.INT
        ? Number(arg.value.value)
        : arg.value.kind === Kind.VARIABLE
          ? Number(variables[arg.value.name.value])
          : NaN;
    if (Number.isFinite(value)) return Math.min(Math.max(Math.trunc(value), 1), 1000);
  }
  return fallback;
}

/**
 * Walks the operation with fragments expanded. Stops as soon as a limit is passed, so the walk
 * itself costs at most `maxCost` steps whatever the fragments multiply to.
 */
export function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): LimitViolation | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  let aliases = 0;
  let cost = 0;

  const visit = (
    set: SelectionSetNode,
    parent: GraphQLNamedType | undefined,
    depth: number,
    multiplier: number,
  ): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(
          selection.selectionSet,
          selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) ?? undefined) : parent,
          depth,
          multiplier,
        );
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment)
          visit(
            fragment.selectionSet,
            schema.getType(fragment.typeCondition.name.value) ?? undefined,
            depth,
            multiplier,
          );
        continue;
      }
      if (depth > limits.maxDepth) throw new Exceeded({ limit: 'depth', max: limits.maxDepth });
      if (selection.alias && ++aliases > limits.maxAliases)
        throw new Exceeded({ limit: 'aliases', max: limits.maxAliases });
      cost += multiplier;
      if (cost > limits.maxCost) throw new Exceeded({ limit: 'cost', max: limits.maxCost });
      // Introspection (development only) is not priced: Sandbox's own query must keep working.
      if (!selection.selectionSet || selection.name.value.startsWith('__')) continue;
      const def =
        parent && (isObjectType(parent) || isInterfaceType(parent))
          ? parent.getFields()[selection.name.value]
          : undefined;
      const size =
        def && isListType(getNullableType(def.type)) ? listSize(selection, variables, limits.defaultListSize) : 1;
      visit(selection.selectionSet, def ? getNamedType(def.type) : undefined, depth + 1, multiplier * size);
    }
  };

  try {
    visit(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined, 1, 1);
  } catch (err) {
    if (err instanceof Exceeded) return err.violation;
    throw err;
  }
  return null;
}

/** Root field names of the operation (fragments on the root expanded), with how often each occurs. */
export function rootFieldCounts(document: DocumentNode, operation: OperationDefinitionNode): Map<string, number> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) counts.set(selection.name.value, (counts.get(selection.name.value) ?? 0) + 1);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else {
        const fragment = fragments.get(selection.name.value);
        // Validation rejects fragment cycles; the guard only keeps this function safe on its own.
        if (fragment && !seen.has(fragment.name.value)) {
          seen.add(fragment.name.value);
          visit(fragment.selectionSet);
          seen.delete(fragment.name.value);
        }
      }
    }
  };
  visit(operation.selectionSet);
  return counts;
}

const LIMIT_TEXT: Record<LimitName, string> = {
  depth: 'nesting depth',
  aliases: 'number of aliases',
  tokens: 'number of tokens',
  cost: 'estimated cost',
};

export function queryTooComplex(violation: LimitViolation): AppError {
  return new AppError(
    ErrorCode.QUERY_TOO_COMPLEX,
    `The query exceeds the ${LIMIT_TEXT[violation.limit]} limit of ${violation.max}`,
    {
      limit: violation.limit,
      max: violation.max,
      http: { status: 400, headers: new HeaderMap() },
    },
  );
}
