/**
 * JSON parsing that keeps every number literal's exact source text.
 *
 * Why: Kraken's WS v2 (and Independent Reserve's REST) send prices as JSON numbers. JSON.parse turns
 * "95123.40" into the float 95123.4 and a long literal into the nearest double, so reformatting loses or
 * invents digits. Node 20's V8 lacks the reviver `context.source` proposal (JSON.parse with source text),
 * so instead we scan the raw text once, quote every number token that sits outside a string, and then let
 * JSON.parse do the real validation. Numbers come back as their exact literal text, e.g. "95123.40".
 */

// A JSON number token, anchored at the scan position (sticky).
const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Like JSON.parse, but every number value becomes a string holding its literal digits. Throws SyntaxError on bad JSON. */
export function parseJsonExact(text: string): unknown {
  let out = '';
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the whole string literal, honouring escapes, so digits inside strings are left alone.
      i++;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      NUMBER_TOKEN.lastIndex = i;
      const m = NUMBER_TOKEN.exec(text);
      if (!m) throw new SyntaxError(`invalid number at position ${i}`);
      out += `${text.slice(copiedUpTo, i)}"${m[0]}"`;
      i += m[0].length;
      copiedUpTo = i;
      continue;
    }
    i++;
  }
  out += text.slice(copiedUpTo);
  return JSON.parse(out) as unknown;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
