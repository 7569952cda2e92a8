import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A MIME part sent as an attachment (Content-Disposition: attachment), its body decoded. */
export type ReceivedAttachment = { filename: string; contentType: string; content: Buffer };

/** One message as the server received it: envelope, the authenticated user, the decoded raw text and its attachments. */
export type ReceivedMail = { from: string; to: string[]; user: string | undefined; raw: string; subject: string; text: string; attachments: ReceivedAttachment[] };

export type FakeSmtp = {
  url: string;
  port: number;
  messages(): ReceivedMail[];
  /** AUTH attempts the server refused (wrong user or password). */
  refusedLogins(): number;
  close(): Promise<void>;
};

/** Quoted-printable soft breaks and escapes undone, so a test can search the message's text. */
function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The text/plain part of a nodemailer message (quoted-printable, base64 or 7bit). */
function textPart(raw: string): string {
  const m = /Content-Type: text\/plain[^\r\n]*\r?\n(?:Content-Transfer-Encoding: ([\w-]+)\r?\n)?\r?\n([\s\S]*?)(?:\r?\n--|$)/i.exec(raw);
  if (!m) return '';
  const body = m[2] ?? '';
  if (m[1]?.toLowerCase() === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return m[1]?.toLowerCase() === 'quoted-printable' ? decodeQuotedPrintable(body) : body;
}

/** The attachments of a multipart message (RFC 2045/2183): each part's headers, filename and base64 or 7bit body. */
function attachmentsOf(raw: string): ReceivedAttachment[] {
  const out: ReceivedAttachment[] = [];
  for (const part of raw.split(/\r?\n--[^\r\n]+\r?\n/)) {
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) continue;
    // Folded header lines (a continuation starts with whitespace) joined back.
    const headers = part.slice(0, split.index).replace(/\r?\n[ \t]+/g, ' ');
    if (!/^Content-Disposition:\s*attachment/im.test(headers)) continue;
    const body = part.slice(split.index + split[0].length).replace(/\r?\n--[^\r\n]*--\s*$/, '');
    const filename = /filename\*?=(?:"([^"]+)"|([^;\r\n]+))/i.exec(headers);
    const encoding = /^Content-Transfer-Encoding:\s*([\w-]+)/im.exec(headers)?.[1]?.toLowerCase();
    out.push({
      filename: (filename?.[1] ?? filename?.[2] ?? '').trim(),
      contentType: (/^Content-Type:\s*([^;\r\n]+)/im.exec(headers)?.[1] ?? '').trim(),
      content: encoding === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : Buffer.from(body, 'latin1'),
    });
  }
  return out;
}

/**
 * A real SMTP server (the smtp-server package) on a free port, with AUTH required: only `user` with
 * `password` may send (PLAIN/LOGIN without TLS, as on a local relay). Keeps every message it accepts.
 */
export async function startFakeSmtp(user: string, password: string): Promise<FakeSmtp> {
  const received: ReceivedMail[] = [];
  let refused = 0;
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) return cb(null, { user });
      refused++;
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const subject = /^Subject: (.*)$/im.exec(raw)?.[1]?.trim() ?? '';
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          raw,
          subject,
          text: textPart(raw),
          attachments: attachmentsOf(raw),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    port,
    messages: () => [...received],
    refusedLogins: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
