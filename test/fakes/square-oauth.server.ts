import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal, readBody, sendJson } from './http';

/**
 * A local Square OAuth API that behaves as developer.squareup.com documents it (code flow):
 * - `GET /oauth2/authorize?client_id&scope&session&state`: the seller's consent page (unknown client
 *   or scope: 400). The test "is" the seller: `approve(authorizeUrl, merchantId)` posts the consent
 *   form to `POST /oauth2/authorize/decision` and gets the 302 to the app's registered redirect URL,
 *   `?code=…&response_type=code&state=…` (or `?error=access_denied&error_description=user_denied&state=…`).
 * - `POST /oauth2/token` (JSON): client_id + client_secret checked; `authorization_code` codes are
 *   single use and expire after 5 minutes; `refresh_token` answers a new access token and the SAME
 *   refresh token (the code flow's do not rotate); access tokens expire after 30 days.
 * - `POST /oauth2/revoke` with `Authorization: Client <application secret>`: revokes every token the
 *   application holds for the merchant (by merchant_id or one of its access tokens).
 * - `GET /v2/merchants/me` with a bearer token: 401 once it is expired or revoked.
 * Errors in Square's format: `{"errors":[{"category","code","detail"}]}`.
 * It also signs app-level webhook notifications the way Square does (`notify`).
 */

export type SquareOAuthFakeOptions = {
  applicationId: string;
  applicationSecret: string;
  /** The redirect URL set on the application's OAuth page (or later, with `configure`, once the platform listens). */
  redirectUrl?: string;
  /** The application's webhook subscription: its notification URL and signature key. */
  webhook?: { notificationUrl: string; signatureKey: string };
  now?: () => number;
  accessTokenTtlMs?: number;
};

type Grant = { merchantId: string; refreshToken: string; scopes: string[]; revoked: boolean };
type Code = { merchantId: string; scopes: string[]; expiresAt: number; used: boolean };
type AccessToken = { grant: Grant; expiresAt: number };

const KNOWN_SCOPES = new Set(['PAYMENTS_READ', 'PAYMENTS_WRITE', 'REFUNDS_READ', 'REFUNDS_WRITE', 'MERCHANT_PROFILE_READ', 'ORDERS_READ', 'CUSTOMERS_READ', 'ITEMS_READ']);
const CODE_TTL_MS = 5 * 60_000;

const squareError = (res: ServerResponse, status: number, category: string, code: string, detail: string): void =>
  sendJson(res, status, { errors: [{ category, code, detail }] });

export type SquareOAuthFake = Awaited<ReturnType<typeof startSquareOAuthFake>>;

export async function startSquareOAuthFake(opts: SquareOAuthFakeOptions) {
  const now = opts.now ?? (() => Date.now());
  const ttl = opts.accessTokenTtlMs ?? 30 * 86_400_000;
  const codes = new Map<string, Code>();
  const grants = new Map<string, Grant>(); // by refresh token
  const accessTokens = new Map<string, AccessToken>();
  const calls: { path: string; grantType?: string }[] = [];
  const app = { redirectUrl: opts.redirectUrl, webhook: opts.webhook };

  const issue = (grant: Grant): Record<string, unknown> => {
    const accessToken = `EAAA${randomBytes(24).toString('base64url')}`;
    const expiresAt = now() + ttl;
    accessTokens.set(accessToken, { grant, expiresAt });
    return {
      access_token: accessToken,
      token_type: 'bearer',
      // Square writes seconds precision with a Z.
      expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      merchant_id: grant.merchantId,
      refresh_token: grant.refreshToken,
      short_lived: false,
    };
  };

  const token = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_JSON', 'the body is not JSON');
    }
    calls.push({ path: '/oauth2/token', grantType: String(body.grant_type) });
    if (body.client_id !== opts.applicationId || body.client_secret !== opts.applicationSecret) {
      return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Not Authorized');
    }
    if (body.grant_type === 'authorization_code') {
      const code = typeof body.code === 'string' ? codes.get(body.code) : undefined;
      if (!code) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Authorization code not found');
      if (code.used) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Authorization code is already used');
      if (code.expiresAt <= now()) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Authorization code is expired');
      code.used = true;
      const grant: Grant = { merchantId: code.merchantId, refreshToken: `EQAA${randomBytes(24).toString('base64url')}`, scopes: code.scopes, revoked: false };
      grants.set(grant.refreshToken, grant);
      return sendJson(res, 200, issue(grant));
    }
    if (body.grant_type === 'refresh_token') {
      const grant = typeof body.refresh_token === 'string' ? grants.get(body.refresh_token) : undefined;
      if (!grant || grant.revoked) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Refresh token not found or revoked');
      return sendJson(res, 200, issue(grant));
    }
    return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'grant_type must be authorization_code or refresh_token');
  };

  const revoke = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
    calls.push({ path: '/oauth2/revoke' });
    if (req.headers.authorization !== `Client ${opts.applicationSecret}` || body.client_id !== opts.applicationId) {
      return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'Not Authorized');
    }
    const merchantId = typeof body.merchant_id === 'string' ? body.merchant_id : typeof body.access_token === 'string' ? accessTokens.get(body.access_token)?.grant.merchantId : undefined;
    const theirs = [...grants.values()].filter((g) => g.merchantId === merchantId && !g.revoked);
    if (theirs.length === 0) return squareError(res, 404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', 'no tokens for this merchant');
    for (const g of theirs) g.revoked = true;
    return sendJson(res, 200, { success: true });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
        calls.push({ path: '/oauth2/authorize' });
        const scopes = (url.searchParams.get('scope') ?? '').split(/[ +]/).filter(Boolean);
        if (url.searchParams.get('client_id') !== opts.applicationId) return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'unknown client_id');
        if (scopes.length === 0 || scopes.some((s) => !KNOWN_SCOPES.has(s))) return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'invalid scope');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end(`<form method="post" action="/oauth2/authorize/decision">Allow ${scopes.join(', ')}?</form>`);
      }
      if (req.method === 'POST' && url.pathname === '/oauth2/authorize/decision') {
        const form = new URLSearchParams(await readBody(req));
        const scopes = (form.get('scope') ?? '').split(/[ +]/).filter(Boolean);
        if (form.get('client_id') !== opts.applicationId) return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'unknown client_id');
        if (!app.redirectUrl) return squareError(res, 400, 'INVALID_REQUEST_ERROR', 'INVALID_VALUE', 'the application has no redirect URL');
        const back = new URL(app.redirectUrl);
        if (form.get('decision') === 'deny') {
          back.searchParams.set('error', 'access_denied');
          back.searchParams.set('error_description', 'user_denied');
        } else {
          const code = `sq0cgp-${randomBytes(16).toString('base64url')}`;
          codes.set(code, { merchantId: form.get('merchant_id') ?? '', scopes, expiresAt: now() + CODE_TTL_MS, used: false });
          back.searchParams.set('code', code);
          back.searchParams.set('response_type', 'code');
        }
        const state = form.get('state');
        if (state !== null) back.searchParams.set('state', state);
        res.writeHead(302, { location: back.toString() });
        return void res.end();
      }
      if (req.method === 'POST' && url.pathname === '/oauth2/token') return token(req, res);
      if (req.method === 'POST' && url.pathname === '/oauth2/revoke') return revoke(req, res);
      if (req.method === 'GET' && url.pathname === '/v2/merchants/me') {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const t = bearer ? accessTokens.get(bearer) : undefined;
        if (!t || t.grant.revoked) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', 'This request could not be authorized.');
        if (t.expiresAt <= now()) return squareError(res, 401, 'AUTHENTICATION_ERROR', 'ACCESS_TOKEN_EXPIRED', 'The access token has expired.');
        return sendJson(res, 200, { merchant: { id: t.grant.merchantId, business_name: `Merchant ${t.grant.merchantId}`, country: 'AU', currency: 'AUD', status: 'ACTIVE' } });
      }
      squareError(res, 404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', 'no such endpoint');
    })().catch((err: Error) => squareError(res, 500, 'API_ERROR', 'INTERNAL_SERVER_ERROR', err.message));
  });
  const { url, close } = await listenLocal(server);

  return {
    baseUrl: url,
    calls,
    /** The application's settings in Square's Developer Console: the OAuth redirect URL and the webhook subscription. */
    configure(settings: { redirectUrl?: string; webhook?: { notificationUrl: string; signatureKey: string } }): void {
      if (settings.redirectUrl) app.redirectUrl = settings.redirectUrl;
      if (settings.webhook) app.webhook = settings.webhook;
    },
    /** Every access and refresh token handed out, to prove none leaks anywhere. */
    issuedTokens: (): string[] => [...accessTokens.keys(), ...grants.keys()],
    /** What the seller's browser does on the consent page: returns the redirect Square sends it to. */
    async approve(authorizeUrl: string, merchantId: string, decision: 'approve' | 'deny' = 'approve'): Promise<string> {
      const page = await fetch(authorizeUrl);
      if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${await page.text()}`);
      const q = new URL(authorizeUrl).searchParams;
      const form = new URLSearchParams({ client_id: q.get('client_id') ?? '', scope: q.get('scope') ?? '', state: q.get('state') ?? '', merchant_id: merchantId, decision });
      const res = await fetch(`${url}/oauth2/authorize/decision`, { method: 'POST', body: form, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) throw new Error(`decision answered ${res.status}`);
      return location;
    },
    /** Whether an access token currently works against the API. */
    async tokenWorks(accessToken: string): Promise<boolean> {
      return (await fetch(`${url}/v2/merchants/me`, { headers: { authorization: `Bearer ${accessToken}` } })).ok;
    },
    /** An app-level webhook notification as Square sends it: body and its x-square-hmacsha256-signature. */
    notify(event: Record<string, unknown>): { body: string; headers: Record<string, string> } {
      if (!app.webhook) throw new Error('no webhook subscription configured');
      const body = JSON.stringify(event);
      const signature = createHmac('sha256', app.webhook.signatureKey).update(app.webhook.notificationUrl + body).digest('base64');
      return { body, headers: { 'content-type': 'application/json', 'x-square-hmacsha256-signature': signature } };
    },
    close,
  };
}
