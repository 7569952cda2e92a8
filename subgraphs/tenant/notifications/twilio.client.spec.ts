import { configureLogger } from '../../../lib/logger';
import { startFakeTwilio, type FakeTwilio } from '../../../test/fakes/twilio.server';
import { SmsSendError } from './sms-provider';
import { TwilioClient } from './twilio.client';
import { captureLogs } from '../../../test/helpers/logs';

describe('the Twilio Programmable Messaging client (against the local fake)', () => {
  let twilio: FakeTwilio;
  const lines: string[] = [];
  const waits: number[] = [];
  const sleep = (ms: number): Promise<void> => {
    waits.push(ms);
    return Promise.resolve();
  };
  const client = (over: Partial<ConstructorParameters<typeof TwilioClient>[0]> = {}, maxAttempts = 4): TwilioClient =>
    new TwilioClient({ accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+61400000001', apiBaseUrl: twilio.url, ...over }, { sleep, maxAttempts, backoffMs: 100 });
  const caught = (p: Promise<unknown>): Promise<SmsSendError> => p.then(() => { throw new Error('expected a refusal'); }, (e: unknown) => e as SmsSendError);

  beforeAll(async () => {
    captureLogs(lines, 'debug');
    twilio = await startFakeTwilio();
  });
  afterAll(async () => {
    configureLogger('silent');
    await twilio.close();
  });
  beforeEach(() => {
    waits.length = 0;
  });

  it('POSTs To, From and Body form-encoded with Basic auth and returns the Message sid and status', async () => {
    const r = await client().send({ to: '+61412345678', body: 'Liquid ABT: hello & goodbye' });
    expect(r.messageId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(r.status).toBe('queued');
    expect(twilio.messages().at(-1)).toEqual({ sid: r.messageId, to: '+61412345678', from: '+61400000001', messagingServiceSid: null, body: 'Liquid ABT: hello & goodbye' });
  });

  it('sends MessagingServiceSid instead of From when configured', async () => {
    const mg = `MG${'a'.repeat(32)}`;
    const r = await client({ from: undefined, messagingServiceSid: mg }).send({ to: '+14155552671', body: 'hi' });
    expect(r.status).toBe('accepted');
    expect(twilio.messages().at(-1)).toMatchObject({ from: null, messagingServiceSid: mg });
  });

  it('a wrong auth token: 401 / 20003, SMS_AUTH_FAILED, and the token is in no error or log line', async () => {
    const err = await caught(client({ authToken: 'not-the-token-s3cr3t' }).send({ to: '+61412345678', body: 'x' }));
    expect(err).toBeInstanceOf(SmsSendError);
    expect(err).toMatchObject({ code: 'SMS_AUTH_FAILED', httpStatus: 401, providerCode: 20003, moreInfo: 'https://www.twilio.com/docs/errors/20003' });
    const everything = `${err.message} ${JSON.stringify(err)} ${lines.join('')}`;
    expect(everything).not.toContain('not-the-token-s3cr3t');
    expect(everything).not.toContain(twilio.authToken);
  });

  it('an invalid To that passes the local check reaches Twilio as 400 / 21211, and the number is not in the error', async () => {
    // The client refuses a non-E.164 number before any request.
    const before = twilio.requests().length;
    const local = await caught(client().send({ to: '0412345678', body: 'x' }));
    expect(local).toMatchObject({ code: 'SMS_INVALID_NUMBER', httpStatus: null });
    expect(twilio.requests()).toHaveLength(before);
    // A client that skipped the check (the fake itself validates, as Twilio does).
    const res = await fetch(`${twilio.url}/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${twilio.accountSid}:${twilio.authToken}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: '0412345678', From: '+61400000001', Body: 'x' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 21211, message: "The 'To' number 0412345678 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 });
  });

  it('the fake refuses JSON bodies and missing parameters as Twilio does', async () => {
    const auth = `Basic ${Buffer.from(`${twilio.accountSid}:${twilio.authToken}`).toString('base64')}`;
    const url = `${twilio.url}/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`;
    const json = await fetch(url, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: '{"To":"+61412345678"}' });
    expect(json.status).toBe(400);
    const noBody = await fetch(url, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'To=%2B61412345678&From=%2B61400000001' });
    expect(((await noBody.json()) as { code: number }).code).toBe(21602);
    const noFrom = await fetch(url, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'To=%2B61412345678&Body=x' });
    expect(((await noFrom.json()) as { code: number }).code).toBe(21603);
  });

  it('429 / 20429 is retried with growing backoff (Retry-After when given), then succeeds; nothing is sent twice', async () => {
    const sent = twilio.messages().length;
    twilio.throttleNext(2);
    const r = await client().send({ to: '+61412345678', body: 'after throttling' });
    expect(r.messageId).toMatch(/^SM/);
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeGreaterThan(waits[0] ?? 0);
    expect(twilio.messages().length).toBe(sent + 1);
    expect(twilio.requests().slice(-3).map((q) => q.status)).toEqual([429, 429, 201]);

    waits.length = 0;
    twilio.throttleNext(1, '2');
    await client().send({ to: '+61412345678', body: 'retry-after' });
    expect(waits).toEqual([2000]);
  });

  it('gives up after its attempts with SMS_RATE_LIMITED (the job retries later)', async () => {
    twilio.throttleNext(5);
    const err = await caught(client({}, 3).send({ to: '+61412345678', body: 'x' }));
    expect(err).toMatchObject({ code: 'SMS_RATE_LIMITED', httpStatus: 429, providerCode: 20429 });
    expect(waits).toHaveLength(2);
    twilio.throttleNext(0);
  });

  it('an unreachable API is SMS_UNAVAILABLE, naming no credentials', async () => {
    const err = await caught(new TwilioClient({ accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+61400000001', apiBaseUrl: 'http://127.0.0.1:1' }, { sleep }).send({ to: '+61412345678', body: 'x' }));
    expect(err).toMatchObject({ code: 'SMS_UNAVAILABLE' });
    expect(err.message).not.toContain(twilio.authToken);
  });
});
