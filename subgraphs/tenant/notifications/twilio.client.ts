import type { TwilioConfig } from '../../../lib/config';
import { log } from '../../../lib/logger';
import { isE164 } from './phone-number';
import { SmsSendError, type SmsErrorCode, type SmsMessage, type SmsProvider } from './sms-provider';

export const TWILIO_API_BASE_URL = 'https://api.twilio.com';

export type TwilioClientOptions = {
  /** Attempts in all when Twilio answers 429 (20429) or 503; each waits longer (Retry-After when given). */
  maxAttempts?: number;
  /** First backoff, doubled each retry, with jitter; capped at 30 s. */
  backoffMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

/** Twilio's documented error body (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions). */
type TwilioError = { code?: unknown; message?: unknown; more_info?: unknown; status?: unknown };
type TwilioMessage = { sid?: unknown; status?: unknown };

const MAX_BACKOFF_MS = 30_000;

/** The stable code of a Twilio error: 20003 authenticate, 21211/21614 invalid 'To', 21212/21606 invalid 'From', 20429 too many requests. */
function errorCode(status: number, code: number | null): SmsErrorCode {
  if (status === 401 || code === 20003) return 'SMS_AUTH_FAILED';
  if (status === 429 || code === 20429) return 'SMS_RATE_LIMITED';
  if (code === 21211 || code === 21614 || code === 21408 || code === 21610) return 'SMS_INVALID_NUMBER';
  if (status >= 500) return 'SMS_UNAVAILABLE';
  return 'SMS_REJECTED';
}

/**
 * Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic
 * auth (Account SID : Auth Token), form-encoded `To`, `From` (or `MessagingServiceSid`) and `Body`;
 * 201 with the Message resource (`sid`, `status`), errors as `{code, message, more_info, status}`.
 * 429 and 503 are retried with exponential backoff (nothing was sent); any other error is final for
 * this call. The auth token is used only to build the Authorization header: never logged or thrown.
 */
export class TwilioClient implements SmsProvider {
  readonly kind = 'twilio' as const;
  private readonly url: string;
  private readonly authorization: string;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly config: TwilioConfig,
    opts: TwilioClientOptions = {},
  ) {
    if (!config.from && !config.messagingServiceSid) throw new Error('Twilio needs a From number or a Messaging Service SID');
    if (config.from && !isE164(config.from)) throw new Error('TWILIO_FROM must be an E.164 number');
    const base = (config.apiBaseUrl ?? TWILIO_API_BASE_URL).replace(/\/+$/, '');
    this.url = `${base}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
    this.authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`, 'utf8').toString('base64')}`;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    log().info({ sms: 'twilio', api: base, accountSid: config.accountSid }, 'notifications: SMS go through Twilio');
  }

  async send(msg: SmsMessage): Promise<{ messageId: string; status: string }> {
    if (!isE164(msg.to)) throw new SmsSendError('SMS_INVALID_NUMBER', null, null);
    const form = new URLSearchParams({ To: msg.to, Body: msg.body });
    if (this.config.messagingServiceSid) form.set('MessagingServiceSid', this.config.messagingServiceSid);
    else if (this.config.from) form.set('From', this.config.from);
    for (let attempt = 1; ; attempt++) {
      const res = await this.post(form);
      if (res.status === 200 || res.status === 201) {
        const m = (await res.json().catch(() => ({}))) as TwilioMessage;
        if (typeof m.sid !== 'string') throw new SmsSendError('SMS_UNAVAILABLE', res.status, null);
        return { messageId: m.sid, status: typeof m.status === 'string' ? m.status : 'queued' };
      }
      const e = (await res.json().catch(() => ({}))) as TwilioError;
      const code = typeof e.code === 'number' ? e.code : null;
      const retryable = res.status === 429 || res.status === 503;
      if (retryable && attempt < this.maxAttempts) {
        const wait = this.backoff(attempt, res.headers.get('retry-after'));
        log().warn({ sms: 'twilio', status: res.status, code, attempt, waitMs: wait }, 'twilio: throttled, retrying');
        await this.sleep(wait);
        continue;
      }
      throw new SmsSendError(errorCode(res.status, code), res.status, code, typeof e.more_info === 'string' ? e.more_info : null);
    }
  }

  private async post(form: URLSearchParams): Promise<Response> {
    try {
      return await fetch(this.url, {
        method: 'POST',
        headers: { Authorization: this.authorization, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      // The cause may quote the URL; the token is never in it, but keep the error to a code anyway.
      throw new SmsSendError('SMS_UNAVAILABLE', null, null);
    }
  }

  /** Retry-After (seconds) when Twilio sends it, else base·2^(n-1) with ±20 % jitter; never above 30 s. */
  private backoff(attempt: number, retryAfter: string | null): number {
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
    const base = seconds !== null ? seconds * 1000 : this.backoffMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
    return Math.min(MAX_BACKOFF_MS, Math.round(base));
  }
}
