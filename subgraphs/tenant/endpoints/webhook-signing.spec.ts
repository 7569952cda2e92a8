import { FIRST_RETRY_MS, MAX_RETRY_DELAY_MS, RETRY_WINDOW_MS, nextAttemptAt, retryDelayMs, retryOffsetsMs } from './webhook-backoff';
import { docSnippetVerifier } from './webhook-doc-snippet';
import { generateSigningSecret, signatureHeader, verifySignature } from './webhook-signing';

describe('webhook signing', () => {
  const body = JSON.stringify({ id: 'n1', type: 'purchase.filled' });
  const t = 1_800_000_000;

  it('signs `${t}.${body}` with HMAC-SHA256 and verifies with the same secret', () => {
    const secret = generateSigningSecret();
    const header = signatureHeader([secret], body, t);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(header, body, secret, t)).toBe(true);
  });

  it('refuses another secret, a changed body and a stale timestamp', () => {
    const secret = generateSigningSecret();
    const header = signatureHeader([secret], body, t);
    expect(verifySignature(header, body, generateSigningSecret(), t)).toBe(false);
    expect(verifySignature(header, `${body} `, secret, t)).toBe(false);
    expect(verifySignature(header, body, secret, t + 301)).toBe(false);
    expect(verifySignature('garbage', body, secret, t)).toBe(false);
  });

  it('during rotation carries one v1 per secret, so both verify', () => {
    const [next, old] = [generateSigningSecret(), generateSigningSecret()];
    const header = signatureHeader([next, old], body, t);
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(verifySignature(header, body, next, t)).toBe(true);
    expect(verifySignature(header, body, old, t)).toBe(true);
  });

  it('the documented Node snippet agrees with the signer', () => {
    const verify = docSnippetVerifier();
    const [next, old] = [generateSigningSecret(), generateSigningSecret()];
    const header = signatureHeader([next, old], body, t);
    expect(verify(header, body, next, t)).toBe(true);
    expect(verify(header, body, old, t)).toBe(true);
    expect(verify(header, body, generateSigningSecret(), t)).toBe(false);
    expect(verify(header, `${body}x`, next, t)).toBe(false);
    expect(verify(header, body, next, t + 600)).toBe(false);
  });
});

describe('webhook retry schedule', () => {
  it('doubles from 30 s and caps at 6 h', () => {
    expect(retryDelayMs(1)).toBe(FIRST_RETRY_MS);
    expect(retryDelayMs(2)).toBe(60_000);
    expect(retryDelayMs(5)).toBe(480_000);
    expect(retryDelayMs(30)).toBe(MAX_RETRY_DELAY_MS);
    expect(() => retryDelayMs(0)).toThrow(RangeError);
  });

  it('keeps retrying for up to 3 days from the first attempt, then stops', () => {
    const offsets = retryOffsetsMs();
    expect(offsets[0]).toBe(0);
    expect(offsets.at(-1)!).toBeLessThanOrEqual(RETRY_WINDOW_MS);
    expect(offsets.at(-1)! + MAX_RETRY_DELAY_MS).toBeGreaterThan(RETRY_WINDOW_MS);
    expect(offsets).toHaveLength(21);
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect(nextAttemptAt(t0, 1, t0)?.toISOString()).toBe('2026-01-01T00:00:30.000Z');
    expect(nextAttemptAt(t0, 20, new Date(t0.getTime() + RETRY_WINDOW_MS - 1000))).toBeNull();
  });
});
