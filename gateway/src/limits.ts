// Query limits, checked before any subgraph is called. Over one: QUERY_TOO_COMPLEX, HTTP 400,
// nothing runs. GraphQL Armor (@escape.tech/graphql-armor) counts tokens, depth (fragments
// expanded) and aliases; two checks stay here because Armor cannot express them:
// - nesting on the raw text, before anything is parsed: Armor's depth rule needs a parsed
//   document, and its token counter parses as it counts, so without this a 10,000-deep query
//   would be parsed recursively up to the token limit;
// - the cost estimate: Armor's cost rule knows no schema (lists and objects cost alike) and reads
//   only literal `first`/`last`, so `first: $n` or `limit` would cost 1 whatever they ask for.
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
  type GraphQLFormattedError,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { HeaderMap } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
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

// Every Armor protection is on unless turned off; only those named in each call run. Armor's
// directive limit and field-suggestion masking stay off: the gateway had neither.
const ARMOR_OFF = {
  blockFieldSuggestion: { enabled: false },
  costLimit: { enabled: false },
  maxAliases: { enabled: false },
  maxDepth: { enabled: false },
  maxDirectives: { enabled: false },
  maxTokens: { enabled: false },
};

/**
 * Armor's depth and alias rules, for Apollo's `validationRules`. A rejection is reported as
 * QUERY_TOO_COMPLEX (Armor's own report would be BAD_USER_INPUT); Apollo relabels every validation
 * error GRAPHQL_VALIDATION_FAILED, which `limitErrorCode` undoes.
 */
export function armorValidationRules(limits: QueryLimits): ValidationRule[] {
  const report = (violation: LimitViolation) => ({
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null) => ctx?.reportError(queryTooComplex(violation))],
  });
  return new ApolloArmor({
    ...ARMOR_OFF,
    // Fragments add no level; `__schema` is not counted (Sandbox's introspection is deeper).
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...report({ limit: 'depth', max: limits.maxDepth }) },
    // Aliased `__typename` counts too (Armor allows any number by default).
    maxAliases: { n: limits.maxAliases, allowList: [], ...report({ limit: 'aliases', max: limits.maxAliases }) },
  }).protect().validationRules;
}

/**
 * The limits on a query's text, before Apollo parses it: nesting (here) over the first `maxTokens`
 * tokens, then Armor's token limit. Text that does not parse for another reason is left to
 * Apollo's parser (GRAPHQL_PARSE_FAILED).
 */
export function sourceLimitCheck(limits: QueryLimits): (source: string) => Promise<LimitViolation | null> {
  const overTokenLimit = armorTokenLimit(limits.maxTokens);
  // The verdict depends on the text alone: an app sends the same few texts again and again, so
  // each is lexed and parsed once (bounded: at most CHECKED_TEXTS texts of up to CHECKED_CHARS).
  const checked = new Map<string, LimitViolation | null>();
  return async (source) => {
    const known = checked.get(source);
    if (known !== undefined) return known;
    const verdict =
      nestingOf(source, limits) ?? ((await overTokenLimit(source)) ? { limit: 'tokens', max: limits.maxTokens } : null);
    if (source.length <= CHECKED_CHARS) {
      if (checked.size >= CHECKED_TEXTS) checked.delete(checked.keys().next().value!);
      checked.set(source, verdict);
    }
    return verdict;
  };
}

const CHECKED_TEXTS = 500;
const CHECKED_CHARS = 10_000;

/**
 * Selection-set nesting on the text alone (graphql's lexer, no recursion). Braces inside
 * parentheses are input objects (arguments, default values), not selections. Past `maxTokens`
 * tokens the text is over Armor's limit anyway, and its parse stops there.
 */
function nestingOf(source: string, limits: QueryLimits): LimitViolation | null {
  const lexer = new Lexer(new Source(source));
  let braces = 0;
  let parens = 0;
  try {
    let token = lexer.advance();
    for (let n = 1; n <= limits.maxTokens && token.kind !== TokenKind.EOF; n++, token = lexer.advance()) {
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

/**
 * Armor's token limit is an Apollo `parsingDidStart` hook, but Apollo answers an error thrown
 * there with HTTP 500 (and Armor's `unexpectedErrorProcessingRequest` hook would then label any
 * unexpected error GRAPHQL_VALIDATION_FAILED). So the hook is called here, on the text alone.
 */
function armorTokenLimit(maxTokens: number): (source: string) => Promise<boolean> {
  const rejections = new WeakSet<GraphQLError>();
  const [plugin] = new ApolloArmor({
    ...ARMOR_OFF,
    maxTokens: { n: maxTokens, onReject: [(_ctx, err) => rejections.add(err)] },
  }).protect().plugins;
  return async (source) => {
    // Armor's hooks read nothing of the request but `source`.
    const hooks = await plugin?.requestDidStart?.({} as never);
    try {
      await hooks?.parsingDidStart?.({ source } as never);
      return false;
    } catch (err) {
      if (err instanceof GraphQLError) return rejections.has(err);
      throw err;
    }
  };
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

class Exceeded extends Error {}

/**
 * The cost estimate of the operation to run: every field costs 1, times the sizes of the lists it
 * sits in (a `first`/`last`/`limit` argument, literal or variable, else `defaultListSize`).
 * Fragments are expanded; the walk stops as soon as the limit is passed, so it costs at most
 * `maxCost` steps whatever the fragments multiply to. (Depth is bounded by then: validation ran.)
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: QueryLimits,
): LimitViolation | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  let cost = 0;

  const visit = (set: SelectionSetNode, parent: GraphQLNamedType | undefined, multiplier: number): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(
          selection.selectionSet,
          selection.typeCondition ? (schema.getType(selection.typeCondition.name.value) ?? undefined) : parent,
          multiplier,
        );
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment)
          visit(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined, multiplier);
        continue;
      }
      cost += multiplier;
      if (cost > limits.maxCost) throw new Exceeded();
      // Introspection (development only) is not priced: Sandbox's own query must keep working.
      if (!selection.selectionSet || selection.name.value.startsWith('__')) continue;
      const def =
        parent && (isObjectType(parent) || isInterfaceType(parent))
          ? parent.getFields()[selection.name.value]
          : undefined;
      const size =
        def && isListType(getNullableType(def.type)) ? listSize(selection, variables, limits.defaultListSize) : 1;
      visit(selection.selectionSet, def ? getNamedType(def.type) : undefined, multiplier * size);
    }
  };

  try {
    visit(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined, 1);
  } catch (err) {
    if (err instanceof Exceeded) return { limit: 'cost', max: limits.maxCost };
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

/**
 * For `formatError`: a QUERY_TOO_COMPLEX reported from a validation rule (Armor's) keeps its code;
 * Apollo wraps it in an error coded GRAPHQL_VALIDATION_FAILED, with it as `originalError`.
 */
export function limitErrorCode(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? error.originalError : undefined;
  if (!(original instanceof AppError) || original.code !== ErrorCode.QUERY_TOO_COMPLEX) return formatted;
  return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.QUERY_TOO_COMPLEX } };
}
