/**
 * JSON without floats: the one lossless parser. Exchanges and price feeds (Kraken REST and WS v2,
 * Independent Reserve, Swyftx, ZeroCap) send money as JSON numbers; JSON.parse would round
 * 0.002053467437821649 or 12345678901234567.89 through a double (and Node 20's V8 has no reviver
 * `context.source`). This parser keeps every number as its exact source text (a string); the
 * serializer writes an exact number literal from a decimal string.
 */

export type JsonValue = string | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A SyntaxError, like JSON.parse's, so callers that catch either keep working. */
export class JsonSyntaxError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 64;

/** Parses JSON text; numbers come back as their exact source text. */
export function parseJsonLossless(text: string): JsonValue {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at position ${i}`);
  };
  const str = (): string => {
    // Reuse JSON.parse for string escapes: find the closing quote, then decode that slice.
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '"') {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      } else i++;
    }
    return fail('unterminated string');
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: JsonValue } = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected key');
        const key = str();
        ws();
        if (text[i] !== ':') fail('expected colon');
        i++;
        const v = value(depth + 1);
        // Never let payload keys touch the prototype chain.
        if (key !== '__proto__') obj[key] = v;
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) {
      i += m[0].length;
      return m[0];
    }
    return fail('unexpected token');
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return result;
}

const NUMBER_EXACT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Marks a decimal string to be written as a bare JSON number literal, digit for digit. */
export class JsonNumberLiteral {
  constructor(readonly text: string) {
    if (!NUMBER_EXACT.test(text)) throw new RangeError('not a JSON number literal');
  }
}

export type JsonWritable =
  | string
  | boolean
  | null
  | JsonNumberLiteral
  | JsonWritable[]
  | { [key: string]: JsonWritable | undefined };

/** JSON.stringify that writes JsonNumberLiteral verbatim (and refuses JS numbers entirely). */
export function stringifyJson(value: JsonWritable): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (value instanceof JsonNumberLiteral) return value.text;
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
