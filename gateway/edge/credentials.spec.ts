import { signAccessToken } from '../../lib/auth/tokens';
import { EdgeError } from './errors';
import { apiKeyId, identifyCaller } from './credentials';

const SECRET = 'x'.repeat(40);
const KEY = `abt_live_AbCdEf012345_${'s3cr3t'.repeat(7)}`;

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof EdgeError) return `${err.code}/${err.status}`;
    throw err;
  }
  throw new Error('expected a refusal');
};

describe('the gateway’s credential door', () => {
  it('recognises a partner key by shape and keeps only abt_live_<prefix>', async () => {
    expect(apiKeyId(KEY)).toBe('abt_live_AbCdEf012345');
    const caller = await identifyCaller(`Bearer ${KEY}`, SECRET);
    expect(caller).toEqual({ kind: 'apiKey', keyId: 'abt_live_AbCdEf012345' });
    expect(JSON.stringify(caller)).not.toContain('s3cr3t');
  });

  it.each([
    ['no secret', 'abt_live_AbCdEf012345'],
    ['empty secret', 'abt_live_AbCdEf012345_'],
    ['short prefix', `abt_live_AbCdEf01234_${'a'.repeat(40)}`],
    ['non-base62 prefix', `abt_live_AbCdEf01234!_${'a'.repeat(40)}`],
    ['short secret', 'abt_live_AbCdEf012345_abc'],
    ['junk in secret', `abt_live_AbCdEf012345_${'a'.repeat(40)}$`],
  ])('refuses a malformed key (%s) as UNAUTHENTICATED', async (_why, token) => {
    expect(apiKeyId(token)).toBeUndefined();
    expect(await refusal(identifyCaller(`Bearer ${token}`, SECRET))).toBe('UNAUTHENTICATED/401');
  });

  it('verifies a JWT and keys the caller on sub and tid', async () => {
    const token = await signAccessToken({ sub: 'user-1', tid: 'tenant-1', role: 'OWNER', amr: ['pwd'], sid: 'session-1' }, SECRET);
    expect(await identifyCaller(`Bearer ${token}`, SECRET)).toEqual({ kind: 'user', userId: 'user-1', tenantId: 'tenant-1' });
    expect(await refusal(identifyCaller(`Bearer ${token}`, 'y'.repeat(40)))).toBe('UNAUTHENTICATED/401');
    expect(await refusal(identifyCaller('Bearer garbage', SECRET))).toBe('UNAUTHENTICATED/401');
    expect(await refusal(identifyCaller('Basic dXNlcjpwYXNz', SECRET))).toBe('UNAUTHENTICATED/401');
  });

  it('lets anonymous callers through (public fields; subgraphs decide the rest)', async () => {
    expect(await identifyCaller(undefined, SECRET)).toEqual({ kind: 'anonymous' });
  });
});
