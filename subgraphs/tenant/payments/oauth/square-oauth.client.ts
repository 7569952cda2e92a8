import type { OAuthGrant } from './oauth-credentials';
import { OAuthReason, oauthError } from './oauth-state';

/**
 * Square's OAuth API (code flow, server side): developer.squareup.com/docs/oauth-api.
 * - authorize: `GET {base}/oauth2/authorize?client_id&scope&session=false&state` (the redirect URL is the one set in the app's OAuth page)
 * - `POST {base}/oauth2/token` grant_type=authorization_code (code, client_id, client_secret) or refresh_token (the code flow's
 *   refresh token does not rotate: Square answers with the same one)
 * - `POST {base}/oauth2/revoke` with `Authorization: Client <application secret>` and {client_id, merchant_id}
 * Errors come as `{"errors":[{"category","code","detail"}]}`; their text is never passed on (it may echo what was sent).
 */

export type SquareOAuthConfig = { applicationId: string; applicationSecret: string; baseUrl: string };

/** Read payments and refunds (what webhooks report), and the merchant's profile (its name). */
export const SQUARE_SCOPES = ['PAYMENTS_READ', 'REFUNDS_READ', 'MERCHANT_PROFILE_READ'] as const;


const TIMEOUT_MS = 15_000;
const SQUARE_VERSION = '2025-01-23';

type SquareErrorBody = { errors?: { category?: string; code?: string }[] };

export class SquareOAuthClient {
  private readonly base: string;

  constructor(private readonly cfg: SquareOAuthConfig) {
    this.base = cfg.baseUrl.replace(/\/+$/, '');
  }

  authorizeUrl(state: string): string {
    // Square expects the scopes joined by `+` (a literal plus, not an encoded space) and session=false for production apps.
    const q = `client_id=${encodeURIComponent(this.cfg.applicationId)}&scope=${SQUARE_SCOPES.join('+')}&session=false&state=${encodeURIComponent(state)}`;
    return `${this.base}/oauth2/authorize?${q}`;
  }

  exchangeCode(code: string): Promise<OAuthGrant> {
    return this.token({ grant_type: 'authorization_code', code });
  }

  refresh(refreshToken: string): Promise<OAuthGrant> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** Revokes every token of this application for the merchant. A merchant already gone counts as revoked. */
  async revoke(accountId: string): Promise<void> {
    const res = await this.post('/oauth2/revoke', { client_id: this.cfg.applicationId, merchant_id: accountId }, { authorization: `Client ${this.cfg.applicationSecret}` });
    if (res.ok || res.status === 404) return;
    throw this.failure(res.status, (await res.json().catch(() => ({}))) as SquareErrorBody);
  }

  private async token(grant: Record<string, string>): Promise<OAuthGrant> {
    const res = await this.post('/oauth2/token', { client_id: this.cfg.applicationId, client_secret: this.cfg.applicationSecret, ...grant });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown> & SquareErrorBody;
    if (!res.ok) throw this.failure(res.status, body);
    const { access_token, refresh_token, expires_at, merchant_id } = body;
    const expiresAt = typeof expires_at === 'string' ? new Date(expires_at) : null;
    if (typeof access_token !== 'string' || typeof refresh_token !== 'string' || typeof merchant_id !== 'string' || !expiresAt || Number.isNaN(expiresAt.getTime())) {
      throw oauthError(OAuthReason.PROVIDER_UNAVAILABLE, 'Square answered the token request with an unexpected body');
    }
    return { accountId: merchant_id, accessToken: access_token, refreshToken: refresh_token, expiresAt, scopes: [...SQUARE_SCOPES] };
  }

  private async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'square-version': SQUARE_VERSION, ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      throw oauthError(OAuthReason.PROVIDER_UNAVAILABLE, 'Square could not be reached');
    }
  }

  /** 4xx with an error body: Square refused what we sent (a used, expired or unknown code or token); anything else: Square's trouble. */
  private failure(status: number, body: SquareErrorBody): Error {
    const first = body.errors?.[0];
    if (status >= 400 && status < 500 && first) {
      const code = typeof first.code === 'string' && /^[A-Z_]{1,64}$/.test(first.code) ? first.code : 'UNKNOWN';
      return oauthError(OAuthReason.CODE_REJECTED, `Square refused the grant (${code})`, { providerCode: code });
    }
    return oauthError(OAuthReason.PROVIDER_UNAVAILABLE, `Square answered ${status}`);
  }
}
