import { GraphQLError, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { AppError, ErrorCode } from './errors';

/*
 * PostgreSQL cannot store U+0000 in `text` or `jsonb` ("invalid byte sequence", "\u0000 cannot be
 * converted to text"), and its JSON parser refuses an unpaired UTF-16 surrogate escape ("\ud800"),
 * which JSON.parse and JSON.stringify let through. Strings that may carry either must be refused
 * (caller input) or made storable (provider deliveries) before they reach a query.
 */

/** U+0000, or a surrogate half without its partner. */
// eslint-disable-next-line no-control-regex -- matching U+0000 is the point
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export const REPLACEMENT_CHARACTER = '\ufffd';

export const hasUnstorableText = (s: string): boolean => UNSTORABLE.test(s);

/** The string with each U+0000 and unpaired surrogate replaced by U+FFFD (the string itself when there is none). */
export function storableText(s: string): string {
  return UNSTORABLE.test(s) ? s.replace(UNSTORABLE_ALL, REPLACEMENT_CHARACTER) : s;
}

/** A parsed JSON value with storableText applied to every string and key; `altered` when anything changed. */
export function storableJson(value: unknown): { value: unknown; altered: boolean } {
  let altered = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const s = storableText(v);
      if (s !== v) altered = true;
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[walk(k) as string] = walk(x);
      return out;
    }
    return v;
  };
  const result = walk(value);
  return { value: altered ? result : value, altered };
}

/** The path of the first string in a GraphQL argument value that cannot be stored, or undefined. */
function firstUnstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return hasUnstorableText(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = firstUnstorable(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  // Input objects (null-prototype records); scalars' parsed values (Date, bigint) are not walked.
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      const hit = firstUnstorable(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

export function unstorableInput(field: string): GraphQLError {
  return new AppError(ErrorCode.BAD_USER_INPUT, `${field} must not contain U+0000 or an unpaired surrogate`, { field });
}

/**
 * Wraps every field resolver that takes arguments so that a string argument (at any depth, given
 * as a literal or a variable) carrying U+0000 or an unpaired surrogate is a BAD_USER_INPUT before
 * the resolver runs, instead of a 500 from the database after it started writing. In place: the
 * federation resolvers and reference resolvers on the schema are kept.
 */
export function refuseUnstorableArguments(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const resolve: GraphQLFieldResolver<unknown, unknown> | undefined = field.resolve;
      field.resolve = (source, args: Record<string, unknown>, context, info) => {
        for (const [name, value] of Object.entries(args)) {
          const hit = firstUnstorable(value, name);
          if (hit) throw unstorableInput(hit);
        }
        // graphql-js's default: the property of the same name, called when it is a method.
        if (resolve) return resolve(source, args, context, info);
        const property = (source as Record<string, unknown> | null)?.[info.fieldName];
        return typeof property === 'function' ? (property as (...a: unknown[]) => unknown).call(source, args, context, info) : property;
      };
    }
  }
  return schema;
}
