import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { AppError, ErrorCode } from '../errors';
import { formatUnits } from './decimal';
import { MAX_BIGINT, type AudCents } from './units';

/** User input and the GraphQL wire: AUD in integer cents and BTC in satoshis, strings on the wire. */

const INTEGER = /^-?(0|[1-9]\d*)$/;
const DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

function invalid(name: string, detail: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, `${name} ${detail}`);
}

/** Parses an integer string exactly; rejects floats, exponents, whitespace and overflow. */
export function parseIntegerString(value: unknown, name: string, opts: { allowNegative?: boolean } = {}): bigint {
  if (typeof value !== 'string') throw invalid(name, 'must be a string of whole units (e.g. "1250")');
  if (!INTEGER.test(value)) throw invalid(name, `must be a whole number of ${name === 'Satoshis' ? 'satoshis' : 'cents'}`);
  const n = BigInt(value);
  if (!opts.allowNegative && n < 0n) throw invalid(name, 'must not be negative');
  if (n > MAX_BIGINT || n < -MAX_BIGINT) throw invalid(name, 'is out of range');
  return n;
}

/** "12.34" AUD → 1234n cents; refuses fractional cents instead of rounding them away (BAD_USER_INPUT). */
export function audToCents(aud: string): AudCents {
  if (!DECIMAL.test(aud)) throw invalid('amount', 'must be a decimal AUD amount like "12.34"');
  const [whole, frac = ''] = aud.split('.');
  if (frac.length > 2) throw invalid('amount', 'has fractional cents');
  return (BigInt(whole ?? '0') * 100n + BigInt(frac.padEnd(2, '0'))) as AudCents;
}

/** 1234n → "12.34": always two fraction digits. Takes any bigint count of cents. */
export function centsToAud(cents: bigint): string {
  return formatUnits(cents, 2, 2);
}

function bigintScalar(name: string, description: string, allowNegative: boolean): GraphQLScalarType<bigint, string> {
  const parse = (v: unknown): bigint => parseIntegerString(v, name, { allowNegative });
  return new GraphQLScalarType<bigint, string>({
    name,
    description,
    serialize(value: unknown): string {
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'string' && INTEGER.test(value)) return value;
      throw new TypeError(`${name} cannot serialize ${typeof value}`);
    },
    parseValue: parse,
    parseLiteral(ast: ValueNode): bigint {
      if (ast.kind !== Kind.STRING) throw invalid(name, 'must be given as a string');
      return parse(ast.value);
    },
  });
}

export const AudCentsScalar = bigintScalar(
  'AudCents',
  'Australian dollars in integer cents, as a string ("1250" is $12.50). Never a float.',
  true,
);
export const SatoshisScalar = bigintScalar('Satoshis', 'Bitcoin in integer satoshis, as a string. Never a float.', true);

/** An exact decimal (prices, rates) carried as a string. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a string, e.g. "152345.67". Never a float.',
  serialize(value: unknown): string {
    if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
    throw new TypeError('Decimal cannot serialize a non-decimal value');
  },
  parseValue(value: unknown): string {
    if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) throw invalid('Decimal', 'must be a decimal string');
    return value;
  },
  parseLiteral(ast: ValueNode): string {
    if (ast.kind !== Kind.STRING || !/^-?\d+(\.\d+)?$/.test(ast.value)) throw invalid('Decimal', 'must be a decimal string');
    return ast.value;
  },
});

/** A 64-bit integer that is not money (sequence numbers, counters), as a string. */
export const Int64Scalar = bigintScalar('Int64', 'A 64-bit integer as a string.', false);
