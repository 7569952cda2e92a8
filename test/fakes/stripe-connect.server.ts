import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Stripe from 'stripe';
import { listenLocal, readBody, sendJson } from './http';

/**
 * A local connect.stripe.com that behaves as Stripe's Connect OAuth reference documents it, for
 * Standard accounts:
 * - `GET /oauth/authorize?response_type=code&client_id=ca_…&scope=read_only|read_write&state=…`:
 *   the account holder's consent page (unknown client, response type or scope: 400). The test "is"
 *   the account holder: `approve(authorizeUrl, accountId)` posts the decision and gets the 302 to
 *   the platform's redirect URI with `?scope=…&code=ac_…&state=…` (or `?error=access_denied&…`).
 * - `POST /oauth/token` (form), the platform's secret key as bearer (or `client_secret`):
 *   `grant_type=authorization_code`; codes expire after 5 minutes and work once: a second use is
 *   `invalid_grant` and revokes the tokens the code gave (as Stripe does).
 * - `POST /oauth/deauthorize` (form: client_id, stripe_user_id) with the secret key.
 * - `GET /v1/account` with a connected account's access token: 401 once deauthorized.
 * Errors as Stripe's OAuth endpoints write them: `{"error":"invalid_grant","error_description":…}`.
 * `notify` signs a Connect webhook event for the platform's Connect endpoint (the `stripe` SDK's own signer).
 */

export type StripeConnectFakeOptions = { clientId: string; secretKey: string; redirectUri?: string; webhookSecret?: string; now?: () => number };

type Grant = { accountId: string; scope: string; accessToken: string; refreshToken: string; revoked: boolean };
type Code = { accountId: string; scope: string; expiresAt: number; used: boolean; grant?: Grant };

const CODE_TTL_MS = 5 * 60_000;
const oauthError = (res: ServerResponse, status: number, error: string, description: string): void => sendJson(res, status, { error, error_description: description });

export type StripeConnectFake = Awaited<ReturnType<typeof startStripeConnectFake>>;

export async function startStripeConnectFake(opts: StripeConnectFakeOptions) {
  const now = opts.now ?? (() => Date.now());
  const app = { redirectUri: opts.redirectUri, webhookSecret: opts.webhookSecret };
  const codes = new Map<string, Code>();
  const grants: Grant[] = [];
  const calls: { path: string }[] = [];

  const platformKey = (req: IncomingMessage, form: URLSearchParams): boolean =>
    req.headers.authorization === `Bearer ${opts.secretKey}` || form.get('client_secret') === opts.secretKey;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/oauth/authorize') {
        calls.push({ path: url.pathname });
        const q = url.searchParams;
        if (q.get('client_id') !== opts.clientId) return oauthError(res, 400, 'invalid_client', `No such application: '${q.get('client_id') ?? ''}'`);
        if (q.get('response_type') !== 'code') return oauthError(res, 400, 'unsupported_response_type', 'response_type must be code');
        if (!['read_only', 'read_write'].includes(q.get('scope') ?? 'read_only')) return oauthError(res, 400, 'invalid_scope', 'Invalid scope');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<form method="post" action="/oauth/authorize/decision">Connect your Stripe account?</form>');
      }
      if (req.method === 'POST' && url.pathname === '/oauth/authorize/decision') {
        const form = new URLSearchParams(await readBody(req));
        if (form.get('client_id') !== opts.clientId || !app.redirectUri) return oauthError(res, 400, 'invalid_request', 'unknown application or no redirect URI');
        const back = new URL(app.redirectUri);
        const scope = form.get('scope') ?? 'read_only';
        if (form.get('decision') === 'deny') {
          back.searchParams.set('error', 'access_denied');
          back.searchParams.set('error_description', 'The user denied your request');
        } else {
          const code = `ac_${randomBytes(16).toString('hex')}`;
          codes.set(code, { accountId: form.get('account_id') ?? '', scope, expiresAt: now() + CODE_TTL_MS, used: false });
          back.searchParams.set('scope', scope);
          back.searchParams.set('code', code);
        }
        const state = form.get('state');
        if (state !== null) back.searchParams.set('state', state);
        res.writeHead(302, { location: back.toString() });
        return void res.end();
      }
      if (req.method === 'POST' && url.pathname === '/oauth/token') {
        calls.push({ path: url.pathname });
        const form = new URLSearchParams(await readBody(req));
        if (!platformKey(req, form)) return oauthError(res, 401, 'invalid_client', 'Invalid API Key provided');
        if (form.get('grant_type') !== 'authorization_code') return oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
        const given = form.get('code') ?? '';
        const code = codes.get(given);
        if (!code) return oauthError(res, 400, 'invalid_grant', `Authorization code does not exist: ${given}`);
        if (code.used) {
          if (code.grant) code.grant.revoked = true;
          return oauthError(res, 400, 'invalid_grant', `This authorization code has already been used. All tokens issued with this code have been revoked.`);
        }
        if (code.expiresAt <= now()) return oauthError(res, 400, 'invalid_grant', `Authorization code expired: ${given}`);
        code.used = true;
        const grant: Grant = { accountId: code.accountId, scope: code.scope, accessToken: `sk_test_${randomBytes(24).toString('hex')}`, refreshToken: `rt_${randomBytes(24).toString('hex')}`, revoked: false };
        code.grant = grant;
        grants.push(grant);
        return sendJson(res, 200, {
          access_token: grant.accessToken,
          livemode: false,
          refresh_token: grant.refreshToken,
          token_type: 'bearer',
          stripe_publishable_key: `pk_test_${randomBytes(12).toString('hex')}`,
          stripe_user_id: grant.accountId,
          scope: grant.scope,
        });
      }
      if (req.method === 'POST' && url.pathname === '/oauth/deauthorize') {
        calls.push({ path: url.pathname });
        const form = new URLSearchParams(await readBody(req));
        if (!platformKey(req, form)) return oauthError(res, 401, 'invalid_client', 'Invalid API Key provided');
        if (form.get('client_id') !== opts.clientId) return oauthError(res, 401, 'invalid_client', `No such application: '${form.get('client_id') ?? ''}'`);
        const accountId = form.get('stripe_user_id') ?? '';
        const theirs = grants.filter((g) => g.accountId === accountId && !g.revoked);
        if (theirs.length === 0) return oauthError(res, 401, 'invalid_client', `This application is not connected to stripe account ${accountId}, or that account does not exist.`);
        for (const g of theirs) g.revoked = true;
        return sendJson(res, 200, { stripe_user_id: accountId });
      }
      if (req.method === 'GET' && url.pathname === '/v1/account') {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const g = grants.find((x) => x.accessToken === bearer && !x.revoked);
        if (!g) return sendJson(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
        return sendJson(res, 200, { id: g.accountId, object: 'account', type: 'standard' });
      }
      sendJson(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method ?? ''}: ${url.pathname})` } });
    })().catch((err: Error) => sendJson(res, 500, { error: { type: 'api_error', message: err.message } }));
  });
  const { url, close } = await listenLocal(server);

  return {
    baseUrl: url,
    calls,
    configure(settings: { redirectUri?: string; webhookSecret?: string }): void {
      if (settings.redirectUri) app.redirectUri = settings.redirectUri;
      if (settings.webhookSecret) app.webhookSecret = settings.webhookSecret;
    },
    issuedTokens: (): string[] => grants.flatMap((g) => [g.accessToken, g.refreshToken]),
    async approve(authorizeUrl: string, accountId: string, decision: 'approve' | 'deny' = 'approve'): Promise<string> {
      const page = await fetch(authorizeUrl);
      if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${await page.text()}`);
      const q = new URL(authorizeUrl).searchParams;
      const form = new URLSearchParams({ client_id: q.get('client_id') ?? '', scope: q.get('scope') ?? '', state: q.get('state') ?? '', account_id: accountId, decision });
      const res = await fetch(`${url}/oauth/authorize/decision`, { method: 'POST', body: form, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) throw new Error(`decision answered ${res.status}`);
      return location;
    },
    async tokenWorks(accessToken: string): Promise<boolean> {
      return (await fetch(`${url}/v1/account`, { headers: { authorization: `Bearer ${accessToken}` } })).ok;
    },
    /** A Connect webhook event as Stripe sends it to the platform's Connect endpoint: body and Stripe-Signature. */
    notify(event: Record<string, unknown>): { body: string; headers: Record<string, string> } {
      if (!app.webhookSecret) throw new Error('no Connect endpoint secret configured');
      const body = JSON.stringify(event);
      return { body, headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: app.webhookSecret }) } };
    },
    close,
  };
}
