import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../lib/config';
import { configureLogger } from '../../../lib/logger';
import { localSmsOutbox } from './sms-provider';
import { smsProviderFor } from './wiring';
import { captureLogs } from '../../../test/helpers/logs';

const SID = `AC${'0123456789abcdef'.repeat(2)}`;

describe('SMS configuration and the local SMS outbox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abt-sms-outbox-'));
  const lines: string[] = [];
  beforeAll(() => {
    captureLogs(lines);
  });
  afterAll(() => {
    configureLogger('silent');
    rmSync(dir, { recursive: true, force: true });
  });

  it('no provider configured (npm start): the outbox under DATA_DIR/outbox-sms', () => {
    const c = loadConfig({ DATA_DIR: '/tmp/abt-data' });
    expect(c.sms).toEqual({ twilio: undefined, outboxDir: '/tmp/abt-data/outbox-sms' });
    expect(smsProviderFor({ ...c.sms, outboxDir: dir }).kind).toBe('outbox');
  });

  it('SMS_PROVIDER=twilio with its credentials chooses Twilio, and never logs the token', () => {
    const c = loadConfig({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'tok-s3cr3t-value', TWILIO_FROM: '+61400000001', TWILIO_API_BASE_URL: 'http://127.0.0.1:9' });
    expect(c.sms.twilio).toEqual({ accountSid: SID, authToken: 'tok-s3cr3t-value', from: '+61400000001', messagingServiceSid: undefined, apiBaseUrl: 'http://127.0.0.1:9' });
    expect(smsProviderFor(c.sms).kind).toBe('twilio');
    expect(lines.join('')).not.toContain('tok-s3cr3t-value');
  });

  it('a half-configured Twilio, or a From that is not E.164, refuses to start, naming variables only', () => {
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID })).toThrow(ConfigError);
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID })).toThrow(/TWILIO_AUTH_TOKEN, TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID/);
    const err = (() => {
      try {
        loadConfig({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'tok-s3cr3t-value', TWILIO_FROM: '0400 000 001' });
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err?.message).toMatch(/TWILIO_FROM/);
    expect(err?.message).not.toMatch(/tok-s3cr3t-value|0400/);
    // SMS_PROVIDER=outbox keeps the outbox even with credentials present.
    expect(loadConfig({ SMS_PROVIDER: 'outbox', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 't' }).sms.twilio).toBeUndefined();
  });

  it('the outbox writes one owner-only text file per SMS and logs its path, never the number or text', async () => {
    const out = localSmsOutbox(join(dir, 'outbox-sms'));
    const r = await out.send({ to: '+61412345678', body: 'Liquid ABT: Shop bought 0.00000001 BTC for $1.00 AUD (ref abcdef12).' }, 'n-1');
    expect(r).toEqual({ messageId: 'outbox:n-1', status: 'written' });
    expect(readdirSync(join(dir, 'outbox-sms'))).toEqual(['n-1.txt']);
    const path = join(dir, 'outbox-sms', 'n-1.txt');
    expect(readFileSync(path, 'utf8')).toMatch(/^To: \+61412345678\n[\s\S]*\n\nLiquid ABT: Shop bought/);
    expect(statSync(path).mode & 0o077).toBe(0);
    const logged = lines.join('');
    expect(logged).toContain(path);
    expect(logged).not.toMatch(/412345678|Shop bought/);
  });
});
