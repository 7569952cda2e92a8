import { generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local stand-in for the two PayPal REST endpoints the webhook verifier uses. It verifies for real:
 * it holds an RSA key pair, signs deliveries the way PayPal does (SHA256withRSA over
 * `transmission_id|transmission_time|webhook_id|crc32(body)`), and on verify-webhook-signature recomputes
 * the CRC32 over the exact bytes of `webhook_event` as they appear in the request, so a tampered or
 * re-serialized body, a wrong webhook id or a signature from another key all come back FAILURE.
 */

export const FAKE_PAYPAL_AUTH_ALGO = 'SHA256withRSA';

export type FakePayPalOptions = {
  clientId?: string;
  clientSecret?: string;
  webhookId?: string;
  /** Lifetime of issued access tokens; PayPal's are about nine hours. */
  tokenTtlSeconds?: number;
};

export type PayPalDeliveryOverrides = {
  transmissionId?: string;
  transmissionTime?: string;
  webhookId?: string;
  certUrl?: string;
  authAlgo?: string;
  /** Sign with another key to forge a delivery. */
  privateKey?: KeyObject;
};

export type PayPalDeliveryHeaders = {
  'paypal-auth-algo': string;
  'paypal-cert-url': string;
  'paypal-transmission-id': string;
  'paypal-transmission-sig': string;
  'paypal-transmission-time': string;
};

export type FakePayPal = {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  webhookId: string;
  /** What deliveries name as their cert; verify refuses any other. Shaped like PayPal's so verifiers accept the host. */
  certUrl: string;
  publicKey: KeyObject;
  /** Signs a delivery body with the fake's private key, returning the headers PayPal would send with it. */
  sign(body: string, overrides?: PayPalDeliveryOverrides): PayPalDeliveryHeaders;
  /** true: every endpoint answers 503, as during a PayPal incident. */
  setOutage(down: boolean): void;
  /** Invalidates every issued token, so the next verify call gets 401. */
  revokeTokens(): void;
  readonly stats: { tokenRequests: number; verifyRequests: number; successes: number; failures: number };
  close(): Promise<void>;
};

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib), unsigned: PayPal puts its decimal form in the signed string. */
export function crc32(data: Buffer | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = 0xffffffff;
  for (const byte of bytes) {
    const entry = CRC_TABLE[(crc ^ byte) & 0xff];
    if (entry === undefined) throw new Error('CRC table has 256 entries');
    crc = entry ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function paypalSignedString(transmissionId: string, transmissionTime: string, webhookId: string, body: Buffer | string): string {
  return `${transmissionId}|${transmissionTime}|${webhookId}|${crc32(body)}`;
}

/** Signs a delivery with any RSA private key: the fake's for valid deliveries, another for forged ones. */
export function signPayPalDelivery(
  privateKey: KeyObject,
  body: string,
  params: { webhookId: string; certUrl: string; transmissionId?: string; transmissionTime?: string; authAlgo?: string },
): PayPalDeliveryHeaders {
  const transmissionId = params.transmissionId ?? randomUUID();
  const transmissionTime = params.transmissionTime ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signature = sign('sha256', Buffer.from(paypalSignedString(transmissionId, transmissionTime, params.webhookId, body), 'utf8'), privateKey);
  return {
    'paypal-auth-algo': params.authAlgo ?? FAKE_PAYPAL_AUTH_ALGO,
    'paypal-cert-url': params.certUrl,
    'paypal-transmission-id': transmissionId,
    'paypal-transmission-sig': signature.toString('base64'),
    'paypal-transmission-time': transmissionTime,
  };
}

/**
 * The exact source text of one top-level member's value in a JSON object, or undefined. Assumes the
 * text already passed JSON.parse; the last duplicate wins, as it does in JSON.parse.
 */
export function rawMemberText(text: string, member: string): string | undefined {
  const ws = (i: number): number => {
    while (i < text.length && ' \t\r\n'.includes(text.charAt(i))) i++;
    return i;
  };
  const endOfString = (i: number): number => {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
    }
    return text.length;
  };
  const endOfValue = (i: number): number => {
    if (text[i] === '"') return endOfString(i);
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      for (let j = i; j < text.length; j++) {
        const ch = text[j];
        if (ch === '"') j = endOfString(j) - 1;
        else if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']') {
          depth--;
          if (depth === 0) return j + 1;
        }
      }
      return text.length;
    }
    let j = i;
    while (j < text.length && !',}] \t\r\n'.includes(text.charAt(j))) j++;
    return j;
  };

  let i = ws(0);
  if (text[i] !== '{') return undefined;
  i = ws(i + 1);
  let found: string | undefined;
  while (i < text.length && text[i] !== '}') {
    const keyEnd = endOfString(i);
    const key: unknown = JSON.parse(text.slice(i, keyEnd));
    i = ws(keyEnd);
    if (text[i] !== ':') return undefined;
    i = ws(i + 1);
    const valueEnd = endOfValue(i);
    if (key === member) found = text.slice(i, valueEnd);
    i = ws(valueEnd);
    if (text[i] === ',') i = ws(i + 1);
  }
  return found;
}

async function readBody(req: IncomingMessage, limit = 1_000_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const VERIFY_FIELDS = ['auth_algo', 'cert_url', 'transmission_id', 'transmission_sig', 'transmission_time', 'webhook_id'] as const;

export async function startFakePayPal(options: FakePayPalOptions = {}): Promise<FakePayPal> {
  const clientId = options.clientId ?? `fake-client-${randomBytes(4).toString('hex')}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const webhookId = options.webhookId ?? `WH${randomBytes(8).toString('hex').toUpperCase()}`;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 32_400;
  const certUrl = `https://api.sandbox.paypal.com/v1/notifications/certs/CERT-fake-${randomBytes(6).toString('hex')}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tokens = new Map<string, number>();
  const stats = { tokenRequests: 0, verifyRequests: 0, successes: 0, failures: 0 };
  let outage = false;

  function handleToken(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    stats.tokenRequests++;
    const auth = req.headers.authorization ?? '';
    const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
    if (auth !== expected) {
      send(res, 401, { error: 'invalid_client', error_description: 'Client Authentication failed' });
      return;
    }
    if (new URLSearchParams(body.toString('utf8')).get('grant_type') !== 'client_credentials') {
      send(res, 400, { error: 'unsupported_grant_type', error_description: 'Grant Type is NULL or not supported' });
      return;
    }
    const accessToken = `A21AA${randomBytes(24).toString('base64url')}`;
    tokens.set(accessToken, Date.now() + tokenTtlSeconds * 1000);
    send(res, 200, {
      scope: 'https://uri.paypal.com/services/applications/webhooks',
      access_token: accessToken,
      token_type: 'Bearer',
      app_id: 'APP-FAKE',
      expires_in: tokenTtlSeconds,
      nonce: `${new Date().toISOString()}${randomBytes(8).toString('hex')}`,
    });
  }

  function handleVerify(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    stats.verifyRequests++;
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry < Date.now()) {
      send(res, 401, { error: 'invalid_token', error_description: 'Token signature verification failed' });
      return;
    }
    const text = body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      send(res, 400, { name: 'MALFORMED_REQUEST', message: 'The request JSON is not well formed.' });
      return;
    }
    const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    const missing = VERIFY_FIELDS.filter((f) => typeof fields[f] !== 'string' || fields[f] === '');
    const eventText = rawMemberText(text, 'webhook_event');
    if (missing.length > 0 || typeof fields.webhook_event !== 'object' || fields.webhook_event === null || eventText === undefined) {
      send(res, 400, { name: 'VALIDATION_ERROR', message: 'Invalid request - see details', details: missing.map((field) => ({ field })) });
      return;
    }
    // Every VERIFY_FIELDS member was checked to be a non-empty string just above.
    const field = (f: (typeof VERIFY_FIELDS)[number]): string => {
      const v = fields[f];
      return typeof v === 'string' ? v : '';
    };
    const authAlgo = field('auth_algo');
    const cert = field('cert_url');
    const transmissionId = field('transmission_id');
    const transmissionSig = field('transmission_sig');
    const transmissionTime = field('transmission_time');
    const hookId = field('webhook_id');
    const signed = paypalSignedString(transmissionId, transmissionTime, hookId, eventText);
    const ok =
      authAlgo === FAKE_PAYPAL_AUTH_ALGO &&
      cert === certUrl &&
      hookId === webhookId &&
      verify('sha256', Buffer.from(signed, 'utf8'), publicKey, Buffer.from(transmissionSig, 'base64'));
    if (ok) stats.successes++;
    else stats.failures++;
    send(res, 200, { verification_status: ok ? 'SUCCESS' : 'FAILURE' });
  }

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const body = await readBody(req);
        if (outage) {
          send(res, 503, { name: 'SERVICE_UNAVAILABLE', message: 'Service Unavailable.' });
          return;
        }
        const path = (req.url ?? '').split('?')[0];
        if (req.method === 'POST' && path === '/v1/oauth2/token') return handleToken(req, res, body);
        if (req.method === 'POST' && path === '/v1/notifications/verify-webhook-signature') return handleVerify(req, res, body);
        send(res, 404, { name: 'RESOURCE_NOT_FOUND', message: 'The specified resource does not exist.' });
      } catch {
        send(res, 500, { name: 'INTERNAL_SERVICE_ERROR', message: 'An internal service error has occurred.' });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    webhookId,
    certUrl,
    publicKey,
    sign: (body, overrides = {}) =>
      signPayPalDelivery(overrides.privateKey ?? privateKey, body, {
        webhookId: overrides.webhookId ?? webhookId,
        certUrl: overrides.certUrl ?? certUrl,
        transmissionId: overrides.transmissionId,
        transmissionTime: overrides.transmissionTime,
        authAlgo: overrides.authAlgo,
      }),
    setOutage: (down) => {
      outage = down;
    },
    revokeTokens: () => tokens.clear(),
    stats,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
