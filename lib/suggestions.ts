import type { GraphQLFormattedError } from 'graphql';

/**
 * graphql-js appends "Did you mean …?" to unknown fields, arguments, types, enum values and input
 * fields (validation and variable coercion alike): it maps a schema for anyone without introspection.
 */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

export const withoutSuggestions = (message: string): string => message.replace(SUGGESTION, '').trimEnd();

/** The formatted error with any suggestion taken out of its message. */
export function hideSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const message = withoutSuggestions(formatted.message);
  return message === formatted.message ? formatted : { ...formatted, message };
}
