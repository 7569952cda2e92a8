import { isE164, maskE164, normaliseE164 } from './phone-number';

describe('SMS numbers in E.164', () => {
  it('takes + country code and subscriber number, up to 15 digits', () => {
    for (const ok of ['+61412345678', '+14155552671', '+442071838750', '+12', '+123456789012345']) expect(isE164(ok)).toBe(true);
  });

  it('refuses a national number, a leading zero, letters, more than 15 digits, or no +', () => {
    for (const bad of ['0412345678', '61412345678', '+0412345678', '+61 412 345 678', '+1234567890123456', '+', '+1', '+61412abc678', '', '++61412345678']) {
      expect(isE164(bad)).toBe(false);
    }
  });

  it('drops the separators a person types, nothing else', () => {
    expect(normaliseE164(' +61 412-345.678 ')).toBe('+61412345678');
    expect(normaliseE164('+1 (415) 555-2671')).toBe('+14155552671');
    expect(normaliseE164('0412 345 678')).toBeNull();
    expect(normaliseE164('+61 412 345 678 ext 2')).toBeNull();
    expect(normaliseE164(`+61${'1'.repeat(40)}`)).toBeNull();
  });

  it('masks the middle for showing back', () => {
    expect(maskE164('+61412345678')).toBe('+61 ••• ••• 678');
    expect(maskE164('pseud_abc')).toBe('(hidden)');
  });
});
