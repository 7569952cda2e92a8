import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLogger } from '../../../lib/logger';
import { localOutboxTransport, mailTransportFor } from './mail-transport';
import { captureLogs } from '../../../test/helpers/logs';

describe('the local mail outbox (no SMTP_URL, as in `npm start`)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abt-outbox-'));
  const lines: string[] = [];
  beforeAll(() => {
    captureLogs(lines);
  });
  afterAll(() => {
    configureLogger('silent');
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes each message as an .eml file a mail client opens, and logs the path, never the contents or the recipient', async () => {
    const out = localOutboxTransport(join(dir, 'outbox-mail'));
    const sent = await out.send(
      { from: 'Liquid ABT <no-reply@liquidabt.local>', to: 'owner@shop.example', subject: 'Shop: bitcoin purchase of $1.00 filled', text: 'Amount: $1.00 AUD', html: '<p>Amount: $1.00 AUD</p>', headers: {} },
      'n-1',
    );
    out.close();
    const files = readdirSync(join(dir, 'outbox-mail'));
    expect(files).toEqual(['n-1.eml']);
    const path = join(dir, 'outbox-mail', 'n-1.eml');
    const eml = readFileSync(path, 'utf8');
    expect(eml).toMatch(/^To: owner@shop\.example$/m);
    expect(eml).toMatch(/^Subject: Shop: bitcoin purchase of \$1\.00 filled$/m);
    expect(eml).toContain('multipart/alternative');
    expect(eml).toContain(`Message-ID: ${sent.messageId}`);
    // Only the owner reads it (it holds a member's address).
    expect(statSync(path).mode & 0o077).toBe(0);
    const logged = lines.join('');
    expect(logged).toContain(path);
    expect(logged).not.toMatch(/owner@shop|Amount|\$1\.00/);
  });

  it('chooses SMTP when SMTP_URL is set, and never logs its password', () => {
    const t = mailTransportFor({ smtpUrl: 'smtp://u:s3cr3t-pw@127.0.0.1:2525', outboxDir: dir });
    t.close();
    expect(t.kind).toBe('smtp');
    expect(mailTransportFor({ outboxDir: dir }).kind).toBe('outbox');
    expect(lines.join('')).not.toContain('s3cr3t-pw');
  });
});
