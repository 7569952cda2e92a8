import { AudCentsScalar, SatoshisScalar, audToCents, centsToAud, parseIntegerString } from './index';
import { AppError } from '../errors';
import { Kind } from 'graphql';

describe('money', () => {
  it('parses whole cents exactly, including beyond 2^53', () => {
    expect(parseIntegerString('1250', 'AudCents')).toBe(1250n);
    expect(parseIntegerString('9007199254740993', 'AudCents')).toBe(9007199254740993n);
    expect(AudCentsScalar.serialize(9007199254740993n)).toBe('9007199254740993');
    expect(SatoshisScalar.parseValue('100000000')).toBe(100_000_000n);
  });

  it.each([['10.5'], ['1e3'], [' 12'], ['012'], [''], ['--1'], ['99999999999999999999']])('refuses %p as cents', (v) => {
    expect(() => parseIntegerString(v, 'AudCents')).toThrow(AppError);
  });

  it('refuses numbers (floats) on the wire, and negatives where not allowed', () => {
    expect(() => AudCentsScalar.parseValue(10.5)).toThrow(/string/);
    expect(() => AudCentsScalar.parseLiteral({ kind: Kind.INT, value: '10' })).toThrow(/string/);
    expect(() => parseIntegerString('-1', 'AudCents')).toThrow(/negative/);
    expect(parseIntegerString('-1', 'AudCents', { allowNegative: true })).toBe(-1n);
  });

  it('converts AUD decimal strings to cents without rounding, and back', () => {
    expect(audToCents('12.34')).toBe(1234n);
    expect(audToCents('12.3')).toBe(1230n);
    expect(audToCents('0')).toBe(0n);
    expect(() => audToCents('12.345')).toThrow(/fractional cents/);
    expect(() => audToCents('-1.00')).toThrow(AppError);
    expect(centsToAud(1234n)).toBe('12.34');
    expect(centsToAud(-5n)).toBe('-0.05');
  });
});
