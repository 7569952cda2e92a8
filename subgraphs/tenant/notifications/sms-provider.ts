import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { log } from '../../../lib/logger';

/** One text message: the recipient in E.164 and the body (plain text, short). */
export type SmsMessage = { to: string; body: string };

/** Where SMS go: a provider's HTTP API (Twilio), or text files in a local folder when none is configured. */
export type SmsProvider = {
  readonly kind: 'twilio' | 'outbox';
  /** `name`: a file-safe name of the message (ids only), used by the local outbox. Returns the provider's message id and status. */
  send(msg: SmsMessage, name: string): Promise<{ messageId: string; status: string }>;
};

export type SmsErrorCode = 'SMS_AUTH_FAILED' | 'SMS_INVALID_NUMBER' | 'SMS_RATE_LIMITED' | 'SMS_REJECTED' | 'SMS_UNAVAILABLE';

/**
 * A send that failed, with only what is safe to log: a stable code, the HTTP status and the provider's
 * numeric error code and documentation link. Never the number, the body, the credentials or the
 * provider's message text (Twilio's 21211 message quotes the number).
 */
export class SmsSendError extends Error {
  constructor(
    readonly code: SmsErrorCode,
    readonly httpStatus: number | null,
    readonly providerCode: number | null,
    readonly moreInfo: string | null = null,
  ) {
    super(`sms not sent (${code}${httpStatus !== null ? ` http ${httpStatus}` : ''}${providerCode !== null ? ` provider ${providerCode}` : ''})`);
    this.name = 'SmsSendError';
  }
}

/** No provider (`npm start`): each SMS is written as a small text file the user can open; the path is logged, never the number or text. */
export function localSmsOutbox(dir: string): SmsProvider {
  const root = resolve(dir);
  log().info({ outbox: root }, 'notifications: no SMS provider configured, SMS are written to the local outbox as .txt files');
  return {
    kind: 'outbox',
    async send(msg, name) {
      await mkdir(root, { recursive: true, mode: 0o700 });
      const path = join(root, `${name}.txt`);
      await writeFile(path, `To: ${msg.to}\nDate: ${new Date().toISOString()}\n\n${msg.body}\n`, { mode: 0o600 });
      log().info({ path }, 'notifications: SMS written to the local outbox');
      return { messageId: `outbox:${name}`, status: 'written' };
    },
  };
}
