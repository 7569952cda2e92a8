import type { OAuthGrant } from './oauth-credentials';
import { OAuthReason, oauthError } from './oauth-state';

/**
 * Stripe Connect OAuth for existing Standard accounts (docs.stripe.com/connect/oauth-reference):
 * - authorize: `GET {base}/oauth/authorize?response_type=code&client_id=ca_…&scope=read_only&state=…`
 *   (the redirect URI is the one registered in the platform's Connect settings)
 * - `POST {base}/oauth/token` (form: grant_type=authorization_code, code), authenticated with the
 *   platform's secret key → `stripe_user_id` (the connected account, `acct_…`); access tokens do not expire
 * - `POST {base}/oauth/deauthorize` (form: client_id, stripe_user_id) with the secret key
 * Errors: `{"error":"invalid_grant","error_description":…}`; the description is never passed on.
 */

export type StripeConnectConfig = { clientId: string; secretKey: string; baseUrl: string };

/** Reading the connected account's events is all the platform does with it. */
export const STRIPE_SCOPE = 'read_only';

const TIMEOUT_MS = 15_000;
const OAUTH_ERRORS = /^[a-z_]{1,64}$/;

export class StripeConnectClient {
  private readonly base: string;

  constructor(private readonly cfg: StripeConnectConfig) {
    this.base = cfg.baseUrl.replace(/\/+$/, '');
  }

  authorizeUrl(state: string): string {
    const q = new URLSearchParams({ response_type: 'code', client_id: this.cfg.clientId, scope: STRIPE_SCOPE, state });
    return `${this.base}/oauth/authorize?${q.toString()}`;
  }

  async exchangeCode(code: string): Promise<OAuthGrant> {
    const res = await this.post('/oauth/token', { grant_type: 'authorization_code', code });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw this.failure(res.status, body);
    const { access_token, refresh_token, stripe_user_id, scope } = body;
    if (typeof access_token !== 'string' || typeof stripe_user_id !== 'string' || !/^acct_[A-Za-z0-9]{1,64}$/.test(stripe_user_id)) {
      throw oauthError(OAuthReason.PROVIDER_UNAVAILABLE, 'Stripe answered the token request with an unexpected body');
    }
    return {
      accountId: stripe_user_id,
      accessToken: access_token,
      refreshToken: typeof refresh_token === 'string' ? refresh_token : null,
      expiresAt: null,
      scopes: typeof scope === 'string' ? scope.split(' ') : [STRIPE_SCOPE],
    };
  }

  /** Disconnects the account from the platform. One already disconnected counts as done. */
  async revoke(accountId: string): Promise<void> {
    const res = await this.post('/oauth/deauthorize', { client_id: this.cfg.clientId, stripe_user_id: accountId });
    if (res.ok) return;
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    // The seller already disconnected the platform from their Stripe dashboard: nothing left to revoke.
    if (res.status === 401 && body.error === 'invalid_client' && typeof body.error_description === 'string' && body.error_description.includes('is not connected to stripe account')) return;
    throw this.failure(res.status, body);
  }

  private async post(path: string, form: Record<string, string>): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Bearer ${this.cfg.secretKey}` },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      throw oauthError(OAuthReason.PROVIDER_UNAVAILABLE, 'Stripe could not be reached');
    }
  }

  private failure(status: number, body: Record<string, unknown>): Error {
    if (status >= 400 && status < 500 && typeof body.error === 'string') {
      const code = OAUTH_ERRORS.test(body.error) ? body.error : 'unknown';
      return oauthError(OAuthReason.CODE_REJECTED, `Stripe refused the grant (${code})`, { providerCode: code });
    }
    return oauthError(OAuthReason.PROVIDER_UNAVAILABLE, `Stripe answered ${status}`);
  }
}
