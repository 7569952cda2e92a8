import { abnMatchesAcn, formatAbn, formatAcn, isValidAbn, isValidAcn, parseAbn, parseAcn } from './abn';
import { amlReasonOf } from './errors';

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return amlReasonOf(err);
  }
  return 'no error';
};

describe('ABN checksum', () => {
  it.each([
    ['51 824 753 556', 'the ABR’s published example'],
    ['53 004 085 616', 'ACN 004 085 616 with its check digits'],
    ['33 051 775 556', 'a published company ABN'],
    ['74172177893', 'without spaces'],
    [' 11 123 456 780 ', 'with leading and trailing spaces'],
  ])('accepts %s (%s)', (abn) => {
    expect(isValidAbn(abn)).toBe(true);
    expect(parseAbn(abn)).toBe(abn.replace(/\s/g, ''));
  });

  it.each([
    ['51 824 753 557', 'last digit changed'],
    ['15 824 753 556', 'first two digits transposed'],
    ['12 345 678 901', 'a made-up number'],
    ['01 824 753 556', 'a leading zero (the first digit minus one is not a digit)'],
    ['5182475355', '10 digits'],
    ['518247535560', '12 digits'],
    ['51-824-753-556', 'hyphens are not spaces'],
    ['5182475355a', 'a letter'],
    ['', 'empty'],
  ])('refuses %s (%s) with INVALID_ABN', (abn) => {
    expect(isValidAbn(abn)).toBe(false);
    expect(reasonOf(() => parseAbn(abn))).toBe('INVALID_ABN');
  });

  it('refuses a non-string as a typed error, not a crash', () => {
    expect(reasonOf(() => parseAbn(51824753556))).toBe('INVALID_ABN');
    expect(reasonOf(() => parseAbn(undefined))).toBe('INVALID_ABN');
  });

  it('the error is a BAD_USER_INPUT with the field', () => {
    try {
      parseAbn('51 824 753 557', 'legalEntity.abn');
      throw new Error('not refused');
    } catch (err) {
      expect((err as { extensions: Record<string, unknown> }).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ABN', field: 'legalEntity.abn' });
    }
  });

  it('formats like the register', () => {
    expect(formatAbn('51824753556')).toBe('51 824 753 556');
    expect(formatAcn('004085616')).toBe('004 085 616');
  });
});

describe('ACN check digit', () => {
  it.each(['004 085 616', '000 000 019', '010 499 966', '005 749 986', '123 456 780'])('accepts %s', (acn) => {
    expect(isValidAcn(acn)).toBe(true);
    expect(parseAcn(acn)).toBe(acn.replace(/\s/g, ''));
  });

  it.each(['004 085 617', '123 456 789', '00408561', '0040856160', 'ABC123456'])('refuses %s with INVALID_ACN', (acn) => {
    expect(isValidAcn(acn)).toBe(false);
    expect(reasonOf(() => parseAcn(acn))).toBe('INVALID_ACN');
  });

  it('a company ABN is its ACN with two digits in front', () => {
    expect(abnMatchesAcn('53 004 085 616', '004 085 616')).toBe(true);
    expect(abnMatchesAcn('51 824 753 556', '004 085 616')).toBe(false);
  });
});
