import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import type { Attributes } from '@opentelemetry/api';
import { currentCorrelationId, log, redactUrl } from '../../../lib/logger';
import { CORRELATION_ATTRIBUTE, traceOutgoing } from '../../../lib/tracing';

/** A file sent with a message (e.g. the monthly statement PDF). */
export type MailAttachment = { filename: string; content: Buffer; contentType: string };

export type MailMessage = { from: string; to: string; subject: string; text: string; html: string; headers: Record<string, string>; attachments?: MailAttachment[] };

/** Where mail goes: an SMTP server (SMTP_URL), or .eml files in a local folder when none is configured. */
export type MailTransport = {
  readonly kind: 'smtp' | 'outbox';
  /** `name`: a file-safe name of the message (ids only), used by the local outbox. Returns the Message-ID. */
  send(msg: MailMessage, name: string): Promise<{ messageId: string }>;
  close(): void;
};

/** A send that failed, with only what is safe to log: no addresses, credentials or server replies' bodies. */
export class MailSendError extends Error {
  constructor(readonly code: string) {
    super(`mail not sent (${code})`);
    this.name = 'MailSendError';
  }
}

/**
 * What the CLIENT span of an SMTP send says: the server's host and port and the correlation id. Never
 * the credentials, a recipient, the subject or the body (a member's address is personal information).
 */
export function smtpSpanAttributes(url: string): Attributes {
  let host: { 'server.address'?: string; 'server.port'?: number } = {};
  try {
    const u = new URL(url);
    host = { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'smtps:' ? 465 : 587)) };
  } catch {
    // nodemailer refuses an unparsable URL on send; the span just has no host.
  }
  const correlationId = currentCorrelationId();
  return { 'messaging.system': 'smtp', ...host, ...(correlationId ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}) };
}

/**
 * SMTP through nodemailer; `smtps://` for implicit TLS, STARTTLS when the server offers it. Each send
 * is a CLIENT span `smtp send` (no trace header goes into the message: the mail server is a third party).
 */
export function smtpTransport(url: string): MailTransport {
  const mailer = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
  log().info({ smtp: redactUrl(url) }, 'notifications: email goes through SMTP');
  return {
    kind: 'smtp',
    send: (msg) =>
      traceOutgoing('smtp send', smtpSpanAttributes(url), async () => {
        try {
          const info = await mailer.sendMail(msg);
          return { messageId: info.messageId };
        } catch (err) {
          const e = err as { code?: unknown; responseCode?: unknown };
          throw new MailSendError([e.code, e.responseCode].filter((x) => typeof x === 'string' || typeof x === 'number').join(' ') || 'ESEND');
        }
      }),
    close: () => mailer.close(),
  };
}

/** No SMTP server (`npm start`): each message is written as an .eml file the user can open; the path is logged, never the contents. */
export function localOutboxTransport(dir: string): MailTransport {
  const mailer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const root = resolve(dir);
  log().info({ outbox: root }, 'notifications: no SMTP_URL, email is written to the local outbox as .eml files');
  return {
    kind: 'outbox',
    async send(msg, name) {
      const info = await mailer.sendMail(msg);
      await mkdir(root, { recursive: true });
      const path = join(root, `${name}.eml`);
      await writeFile(path, info.message, { mode: 0o600 });
      log().info({ path }, 'notifications: email written to the local outbox');
      return { messageId: info.messageId };
    },
    close: () => mailer.close(),
  };
}

export const mailTransportFor = (mail: { smtpUrl?: string; outboxDir: string }): MailTransport =>
  mail.smtpUrl ? smtpTransport(mail.smtpUrl) : localOutboxTransport(mail.outboxDir);
