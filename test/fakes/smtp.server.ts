import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the server received it: envelope, the authenticated user, and the decoded raw text. */
export type ReceivedMail = { from: string; to: string[]; user: string | undefined; raw: string; subject: string; text: string };

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
