import { THROTTLE_RULES, lockSeconds, throttleKey } from './login-throttle';

describe('login throttle policy', () => {
  it('locks exponentially after the threshold, capped', () => {
    const r = THROTTLE_RULES.ipAccount;
    expect([5, 6, 7, 8].map((f) => lockSeconds(r, f))).toEqual([30, 60, 120, 240]);
    expect(lockSeconds(r, 100)).toBe(r.maxLockS);
  });

  it('keys never contain the email', () => {
    const k = throttleKey('acct', 'someone@example.com');
    expect(k).toMatch(/^acct:[0-9a-f]{64}$/);
    expect(throttleKey('ipacct', '1.2.3.4', 'a@b')).not.toBe(throttleKey('ipacct', '1.2.3.5', 'a@b'));
  });
});
