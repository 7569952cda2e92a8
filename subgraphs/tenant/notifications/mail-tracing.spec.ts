import { startFakeOtlp, type FakeOtlp } from '../../../test/fakes/otlp.server';
import { startFakeSmtp, type FakeSmtp } from '../../../test/fakes/smtp.server';
import { configureLogger, withCorrelation } from '../../../lib/logger';
import { CORRELATION_ATTRIBUTE, startTracing } from '../../../lib/tracing';
import { MailSendError, smtpTransport } from './mail-transport';

/** SMTP sends as CLIENT spans, received by a real OTLP/HTTP receiver, with no address, credential or content in them. */
describe('email sent over SMTP is traced', () => {
  const USER = 'abt-mailer';
  const PASSWORD = 'smtp-pass-9f3c2e1d';
  let otlp: FakeOtlp;
  let smtp: FakeSmtp;
  const msg = {
    from: 'Liquid ABT <no-reply@liquidabt.local>',
    to: 'owner@shop.example',
    subject: 'Shop: bitcoin purchase of $1.00 filled',
    text: 'Amount: $1.00 AUD',
    html: '<p>Amount: $1.00 AUD</p>',
    headers: {},
  };

  beforeAll(async () => {
    configureLogger('silent');
    otlp = await startFakeOtlp();
    smtp = await startFakeSmtp(USER, PASSWORD);
  });
  afterAll(async () => {
    await smtp.close();
    await otlp.close();
  });

  it('a send is one CLIENT span with the server and the correlation id; a refused login is an error span with only its code', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['workers']);
    const url = new URL(smtp.url);
    url.username = USER;
    url.password = PASSWORD;
    const good = smtpTransport(url.toString());
    await withCorrelation('c-mail', {}, () => good.send(msg, 'n-1'));
    good.close();
    url.password = 'wrong-password-77aa';
    const bad = smtpTransport(url.toString());
    await expect(withCorrelation('c-mail-bad', {}, () => bad.send(msg, 'n-2'))).rejects.toBeInstanceOf(MailSendError);
    bad.close();
    await t.stop();

    expect(smtp.messages()).toHaveLength(1);
    const spans = otlp.spans().filter((s) => s.name === 'smtp send');
    expect(spans).toHaveLength(2);
    const ok = spans.find((s) => s.attributes[CORRELATION_ATTRIBUTE] === 'c-mail');
    expect(ok).toMatchObject({ service: 'workers', kind: 3, statusCode: 0 });
    expect(ok?.attributes).toEqual({
      'messaging.system': 'smtp',
      'server.address': '127.0.0.1',
      'server.port': smtp.port,
      [CORRELATION_ATTRIBUTE]: 'c-mail',
    });
    const failed = spans.find((s) => s.attributes[CORRELATION_ATTRIBUTE] === 'c-mail-bad');
    expect(failed?.statusCode).toBe(2);

    const text = JSON.stringify(spans);
    for (const secret of [USER, PASSWORD, 'wrong-password-77aa', 'owner@shop', 'no-reply@', 'bitcoin purchase', 'Amount']) expect(text).not.toContain(secret);
    // The trace context stays with us: the message carries no traceparent.
    expect(smtp.messages()[0]?.raw).not.toMatch(/traceparent/i);
  });
});
