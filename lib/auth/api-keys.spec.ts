import { apiKeySecretMatches, hashApiKeySecret, looksLikeApiKey, newApiKey, parseApiKey, randomBase62 } from './api-keys';

describe('API keys', () => {
  it('have the contract format abt_live_<12 base62>_<40 base62> and store only a hash', () => {
    const k = newApiKey();
    expect(k.key).toMatch(/^abt_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{40}$/);
    expect(looksLikeApiKey(k.key)).toBe(true);
    const parsed = parseApiKey(k.key)!;
    expect(parsed.lookup).toBe(k.lookup);
    expect(k.secretHash).toBe(hashApiKeySecret(parsed.secret));
    expect(k.secretHash).not.toContain(parsed.secret);
    expect(apiKeySecretMatches(parsed.secret, k.secretHash)).toBe(true);
    expect(apiKeySecretMatches(parsed.secret.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')), k.secretHash)).toBe(false);
    expect(apiKeySecretMatches(parsed.secret, 'abcd')).toBe(false);
  });

  it('refuses malformed keys', () => {
    for (const bad of ['abt_live_short_x', `abt_live_${'a'.repeat(12)}_${'b'.repeat(31)}`, `abt_live_${'a'.repeat(11)}!_${'b'.repeat(40)}`, `abt_test_${'a'.repeat(12)}_${'b'.repeat(40)}`]) {
      expect(parseApiKey(bad)).toBeUndefined();
    }
  });

  it('draws base62 characters roughly uniformly', () => {
    const s = randomBase62(62 * 200);
    const counts = new Map<string, number>();
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    expect(Math.min(...counts.values())).toBeGreaterThan(100);
  });
});
