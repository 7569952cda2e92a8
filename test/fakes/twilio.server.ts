import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLocal, readBody, sendJson } from './http';

/** A message the fake accepted, as Twilio would store it. */
export type TwilioSent = { sid: string; to: string; from: string | null; messagingServiceSid: string | null; body: string };

export type FakeTwilio = {
  url: string;
  accountSid: string;
  authToken: string;
  messages(): TwilioSent[];
  /** Every request that reached the Messages endpoint, with the status answered. */
  requests(): { status: number; to: string | null }[];
  /** The next `n` valid requests get 429 (code 20429), with `Retry-After: retryAfter` when given. */
  throttleNext(n: number, retryAfter?: string): void;
  close(): Promise<void>;
};

const E164 = /^\+[1-9]\d{1,14}$/;
const MORE_INFO = (code: number): string => `https://www.twilio.com/docs/errors/${code}`;
const hex = (n: number): string => randomBytes(n).toString('hex');

/**
 * A local Twilio Programmable Messaging API (2010-04-01), as documented: `POST
 * /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth (Account SID : Auth Token)
 * and a form-encoded body of `To`, `From` or `MessagingServiceSid`, and `Body`. Answers 201 with a
 * Message resource, or Twilio's error body `{code, message, more_info, status}`: 401/20003 for bad
 * credentials, 400/21211 for an invalid 'To', 400/21212 invalid 'From', 400/21602 no Body,
 * 400/21604 no To, 400/21603 neither From nor MessagingServiceSid, 429/20429 when throttled; the
 * magic test numbers +15005550001 (21211) and +15005550009 (21614) are refused as Twilio's test credentials do.
 */
export async function startFakeTwilio(opts: { accountSid?: string; authToken?: string } = {}): Promise<FakeTwilio> {
  const accountSid = opts.accountSid ?? `AC${hex(16)}`;
  const authToken = opts.authToken ?? hex(16);
  const sent: TwilioSent[] = [];
  const seen: { status: number; to: string | null }[] = [];
  let throttle = 0;
  let retryAfter: string | undefined;

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '').split('?')[0] ?? '';
      const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
      if (!m) return sendJson(res, 404, { code: 20404, message: 'The requested resource was not found', more_info: MORE_INFO(20404), status: 404 });
      const fail = (status: number, code: number, message: string, to: string | null): void => {
        seen.push({ status, to });
        sendJson(res, status, { code, message, more_info: MORE_INFO(code), status });
      };
      const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      const [user, pass] = auth ? Buffer.from(auth[1] ?? '', 'base64').toString('utf8').split(/:(.*)/s) : [];
      if (user !== accountSid || pass !== authToken || decodeURIComponent(m[1] ?? '') !== accountSid) {
        res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
        return fail(401, 20003, 'Authenticate', null);
      }
      if (req.method !== 'POST') return fail(405, 20004, 'Method not allowed', null);
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        return fail(400, 21000, 'Content-Type must be application/x-www-form-urlencoded', null);
      }
      const form = new URLSearchParams(body);
      const to = form.get('To');
      const from = form.get('From');
      const service = form.get('MessagingServiceSid');
      const text = form.get('Body');
      if (!to) return fail(400, 21604, "A 'To' phone number is required.", null);
      if (!E164.test(to)) return fail(400, 21211, `The 'To' number ${to} is not a valid phone number.`, to);
      // Twilio's documented magic test numbers: +15005550001 invalid (21211), +15005550009 not SMS-capable (21614).
      if (to === '+15005550001') return fail(400, 21211, `The 'To' number ${to} is not a valid phone number.`, to);
      if (to === '+15005550009') return fail(400, 21614, `'To' number is not a valid mobile number`, to);
      if (!from && !service) return fail(400, 21603, "A 'From' phone number is required.", to);
      if (from && !E164.test(from)) return fail(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`, to);
      if (service && !/^MG[0-9a-fA-F]{32}$/.test(service)) return fail(400, 21701, 'The Messaging Service Sid is invalid.', to);
      if (!text) return fail(400, 21602, 'Message body is required.', to);
      if (text.length > 1600) return fail(400, 21617, 'The concatenated message body exceeds the 1600 character limit.', to);
      if (throttle > 0) {
        throttle--;
        if (retryAfter !== undefined) res.setHeader('Retry-After', retryAfter);
        return fail(429, 20429, 'Too Many Requests', to);
      }
      const sid = `SM${hex(16)}`;
      const now = new Date().toUTCString();
      sent.push({ sid, to, from, messagingServiceSid: service, body: text });
      seen.push({ status: 201, to });
      sendJson(res, 201, {
        account_sid: accountSid,
        api_version: '2010-04-01',
        body: text,
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: from ?? null,
        messaging_service_sid: service ?? null,
        num_media: '0',
        num_segments: String(Math.max(1, Math.ceil(text.length / 153))),
        price: null,
        price_unit: 'USD',
        sid,
        status: service ? 'accepted' : 'queued',
        subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
        to,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      });
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { code: 20500, message: 'Internal Server Error', more_info: MORE_INFO(20500), status: 500 });
    });
  });
  const { url, close } = await listenLocal(server);
  return {
    url,
    accountSid,
    authToken,
    messages: () => [...sent],
    requests: () => [...seen],
    throttleNext(n, after) {
      throttle = n;
      retryAfter = after;
    },
    close,
  };
}
