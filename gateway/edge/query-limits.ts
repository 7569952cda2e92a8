import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { hideSuggestions } from '../../lib/suggestions';
import { exceedsTokens } from './body';
import { EdgeCode, EdgeError, formatGatewayError } from './errors';

export type QueryLimits = {
  /** Selection depth (fragments count as a level; `__schema` introspection is exempt). Default 10. */
  maxDepth?: number;
  /** Aliases per operation (`__typename` aliases are free). Default 15. */
  maxAliases?: number;
  /** graphql-armor cost (objects 2, scalars 1, ×1.5 per level, ×`first:` literal). Default 5 000. */
  maxCost?: number;
  /** Directives per operation. Default 20. */
  maxDirectives?: number;
  /** Replace "Did you mean …?" in validation errors. Default: on when NODE_ENV=production. */
  hideFieldSuggestions?: boolean;
};

export const QUERY_LIMIT_DEFAULTS: Required<Omit<QueryLimits, 'hideFieldSuggestions'>> = {
  maxDepth: 10,
  maxAliases: 15,
  maxCost: 5000,
  maxDirectives: 20,
};

/** graphql-armor reports "Syntax Error: <message>"; the edge reports its own code and the message alone. */
const reject =
  (code: EdgeCode, limit: Record<string, number>) =>
  (ctx: ValidationContext | null, error: GraphQLError): void => {
    const err = new EdgeError(code, error.message.replace(/^Syntax Error: /, ''), 400, limit);
    if (ctx) ctx.reportError(err);
    else throw err;
  };

/**
 * graphql-armor's depth, cost, alias and directive limits as validation rules, each refusal with
 * its own code instead of armor's generic BAD_USER_INPUT. Token counting runs before parsing (see
 * body.ts); suggestions are taken out by the policy's formatError (armor's masking misses enum
 * values and variables).
 */
export function queryLimits(opts: QueryLimits = {}): { validationRules: ValidationRule[] } {
  const l = { ...QUERY_LIMIT_DEFAULTS, ...definedOnly(opts) };
  const armor = new ApolloArmor({
    maxDepth: { n: l.maxDepth, ignoreIntrospection: true, propagateOnRejection: false, onReject: [reject(EdgeCode.MAX_DEPTH_EXCEEDED, { maxDepth: l.maxDepth })] },
    maxAliases: { n: l.maxAliases, propagateOnRejection: false, onReject: [reject(EdgeCode.MAX_ALIASES_EXCEEDED, { maxAliases: l.maxAliases })] },
    costLimit: { maxCost: l.maxCost, ignoreIntrospection: true, propagateOnRejection: false, onReject: [reject(EdgeCode.MAX_COST_EXCEEDED, { maxCost: l.maxCost })] },
    maxDirectives: {
      n: l.maxDirectives,
      propagateOnRejection: false,
      onReject: [reject(EdgeCode.MAX_DIRECTIVES_EXCEEDED, { maxDirectives: l.maxDirectives })],
    },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  });
  return { validationRules: armor.protect().validationRules };
}

/**
 * What every operation the gateway runs must pass, whichever way it arrives (HTTP POST/GET, a
 * batch, APQ, a persisted id, or a graphql-ws subscribe): defined once, applied by Apollo for HTTP
 * and by `check` for WebSocket, with the same codes.
 */
export type QueryPolicy = {
  /** graphql-armor's limits (Apollo adds graphql-js's own rules, and refuses introspection when it is off). */
  validationRules: ValidationRule[];
  maxTokens: number;
  introspection: boolean;
  hideSuggestions: boolean;
  /** Apollo's formatError on HTTP, and the formatter of every error sent over WebSocket. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The HTTP path's checks for a document that did not come over HTTP: tokens, parse, validation (graphql-js + limits + introspection). */
  check(schema: GraphQLSchema, query: string): DocumentNode | readonly GraphQLError[];
};

export function queryPolicy(opts: { limits?: Omit<QueryLimits, 'hideFieldSuggestions'>; maxTokens: number; introspection: boolean; hideSuggestions: boolean }): QueryPolicy {
  const { validationRules } = queryLimits(opts.limits);
  const rules: ValidationRule[] = [...specifiedRules, ...validationRules, ...(opts.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const formatError = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const f = formatGatewayError(formatted, error);
    return opts.hideSuggestions ? hideSuggestions(f) : f;
  };
  return {
    validationRules,
    maxTokens: opts.maxTokens,
    introspection: opts.introspection,
    hideSuggestions: opts.hideSuggestions,
    formatError,
    check(schema, query) {
      if (exceedsTokens(query, opts.maxTokens)) {
        return [new EdgeError(EdgeCode.MAX_TOKENS_EXCEEDED, `Token limit of ${opts.maxTokens} exceeded.`, 400, { maxTokens: opts.maxTokens })];
      }
      let document: DocumentNode;
      try {
        document = parse(query, { maxTokens: opts.maxTokens });
      } catch (err) {
        if (err instanceof GraphQLError) return [coded(err, 'GRAPHQL_PARSE_FAILED')];
        throw err;
      }
      const invalid = validate(schema, document, rules);
      return invalid.length ? invalid.map((e) => (e instanceof EdgeError ? e : coded(e, 'GRAPHQL_VALIDATION_FAILED'))) : document;
    },
  };
}

const coded = (err: GraphQLError, code: string): GraphQLError =>
  new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, extensions: { ...err.extensions, code } });

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
