import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';
import { EdgeCode, EdgeError } from './errors';

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
 * graphql-armor's depth, cost, alias and directive limits as validation rules (each refusal carries
 * its own code instead of armor's generic BAD_USER_INPUT), and its field-suggestion masking. Token
 * counting runs earlier, at the HTTP door (see body.ts), before anything is parsed.
 */
export function queryLimits(opts: QueryLimits = {}): { plugins: ApolloServerPlugin[]; validationRules: ValidationRule[] } {
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
    blockFieldSuggestion: { enabled: opts.hideFieldSuggestions ?? process.env.NODE_ENV === 'production' },
  });
  const { plugins, validationRules } = armor.protect();
  return { plugins, validationRules };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
