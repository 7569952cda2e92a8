import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { mayDo, type Scope } from '../../../../lib/access';
import type { Role } from '../../../../lib/auth/tokens';
import type { PaymentOAuthSettings } from '../../../../lib/config';
import { open, seal, type KeyRing } from '../../../../lib/crypto/secret-box';
import { isUuid } from '../../../../lib/db/tenant-context';
import type { TenantTransactions, TenantTx } from '../../../../lib/db/tenant-tx';
import { badInput, notFound } from '../../../../lib/errors';
import { log, noteRequest } from '../../../../lib/logger';
import { recordSecurityEvent } from '../../../../lib/metrics';
import { IntegrationRoute, PaymentAccountRoute, PaymentConnection, PaymentIntegration, PaymentProvider } from '../integration.entity';
import { integrationAad, type IntegrationService, type WebhookOutcome } from '../integration.service';
import { WebhookErrorCode, WebhookVerificationError, createSquareVerifier, createStripeVerifier, type RawWebhookRequest, type WebhookVerifier } from '../webhooks';
import type { OAuthCredentials, OAuthGrant } from './oauth-credentials';
import { OAUTH_STATE_TTL_MS, OAuthReason, oauthError, signState, verifyState } from './oauth-state';
import { SquareOAuthClient } from './square-oauth.client';
import { StripeConnectClient } from './stripe-connect.client';

/** What connecting one provider by OAuth needs from its client. */
type ProviderClient = { authorizeUrl(state: string): string; exchangeCode(code: string): Promise<OAuthGrant>; revoke(accountId: string): Promise<void> };

/** The provider's name for the account in its app-level webhooks: Square's `merchant_id`, a Stripe Connect event's `account`. */
const ACCOUNT_FIELD: Partial<Record<PaymentProvider, string>> = { [PaymentProvider.SQUARE]: 'merchant_id', [PaymentProvider.STRIPE]: 'account' };
/** The event a provider sends when the seller revokes the platform: Square's `oauth.authorization.revoked`, Stripe's `account.application.deauthorized`. */
const REVOKED_EVENT: Partial<Record<PaymentProvider, string>> = { [PaymentProvider.SQUARE]: 'oauth.authorization.revoked', [PaymentProvider.STRIPE]: 'account.application.deauthorized' };
const LABEL: Record<PaymentProvider, string> = { [PaymentProvider.SQUARE]: 'Square', [PaymentProvider.STRIPE]: 'Stripe', [PaymentProvider.PAYPAL]: 'PayPal' };

/** Tokens that expire within this are refreshed (Square: 30-day tokens; its advice is to refresh well before, at most weekly). */
export const REFRESH_WITHIN_MS = 7 * 86_400_000;

const CODE = /^[A-Za-z0-9_-]{1,512}$/;

export type StartedOAuth = { authorizationUrl: string; expiresAt: Date };
export type RefreshReport = { refreshed: number; failed: number };

/** The provider a URL segment names, if any. */
const providerNamed = (name: string): PaymentProvider | null => Object.values(PaymentProvider).find((p) => p === (name as PaymentProvider)) ?? null;

const notConfigured = (provider: PaymentProvider): Error => oauthError(OAuthReason.NOT_CONFIGURED, `${provider} OAuth is not configured on this platform`);

/**
 * Connecting payment processors by OAuth: start (a signed state, its nonce kept until used), the
 * callback (state checked and consumed, code exchanged, tokens sealed, the account routed to this
 * tenant), refresh before expiry, disconnect (revoked at the provider) and the app-level webhook that
 * names the account, routed into the same intake as a pasted-secret integration's.
 */
export class PaymentOAuthService {
  readonly square: SquareOAuthClient | null;
  readonly stripe: StripeConnectClient | null;

  constructor(
    private readonly orm: MikroORM,
    private readonly tenants: TenantTransactions,
    private readonly keys: KeyRing,
    private readonly integrations: IntegrationService,
    private readonly settings: PaymentOAuthSettings,
  ) {
    this.square = settings.square ? new SquareOAuthClient(settings.square) : null;
    this.stripe = settings.stripe ? new StripeConnectClient(settings.stripe) : null;
  }

  private client(provider: PaymentProvider | null): ProviderClient | null {
    if (provider === PaymentProvider.SQUARE) return this.square;
    if (provider === PaymentProvider.STRIPE) return this.stripe;
    return null;
  }

  /** Where the browser goes after the callback, with the outcome in the query. */
  returnUrl(outcome: { integrationId: string } | { reason: string }): string {
    const base = this.settings.returnUrl ?? this.integrations.connectWebhookUrl(PaymentProvider.SQUARE).replace(/\/webhooks\/connect\/square$/, '/');
    const u = new URL(base);
    if ('integrationId' in outcome) {
      u.searchParams.set('paymentOAuth', 'connected');
      u.searchParams.set('integrationId', outcome.integrationId);
    } else {
      u.searchParams.set('paymentOAuth', 'failed');
      u.searchParams.set('reason', outcome.reason);
    }
    return u.toString();
  }

  async start(scope: Scope, provider: PaymentProvider, name?: string | null): Promise<StartedOAuth> {
    if (provider === PaymentProvider.PAYPAL) throw oauthError(OAuthReason.NOT_CONFIGURED, 'PayPal has no OAuth onboarding here; paste its webhook credentials instead');
    const client = this.client(provider);
    if (!client) throw notConfigured(provider);
    const label = name?.trim() || null;
    if (label !== null && label.length > 120) throw badInput('name must be 1 to 120 characters', 'name');
    return scope.tx(async (tx) => {
      const expiresAt = new Date(tx.now.getTime() + OAUTH_STATE_TTL_MS);
      const { state, nonce } = signState(this.keys, { tenantId: scope.tenantId, userId: scope.userId, provider, expiresAt });
      await tx.em.execute(`delete from payment_oauth_state where expires_at < ?`, [tx.now]);
      await tx.em.execute(`insert into payment_oauth_state (nonce, provider, user_id, name, expires_at) values (?, ?, ?, ?, ?)`, [nonce, provider, scope.userId, label, expiresAt]);
      return { authorizationUrl: client.authorizeUrl(state), expiresAt };
    });
  }

  /**
   * The provider's redirect back (its query parameters). Nothing is written unless every step
   * passes: a bad, expired or replayed state, a denied consent, a refused code or an account another
   * tenant holds each give a typed error (the consumed nonce aside: a state is good for one try).
   */
  async complete(name: string, query: URLSearchParams): Promise<PaymentIntegration> {
    const provider = providerNamed(name);
    if (provider === null || provider === PaymentProvider.PAYPAL) throw notFound('OAuth provider');
    const client = this.client(provider);
    if (!client) throw notConfigured(provider);
    const claims = verifyState(this.keys, query.get('state'), provider, new Date());
    noteRequest({ tenantId: claims.tenantId });
    const pending = await this.tenants
      .run(
        claims.tenantId,
        async (tx) => {
          const [row] = await tx.em.execute<{ user_id: string; name: string | null; expires_at: Date }[]>(
            `delete from payment_oauth_state where nonce = ? and provider = ? returning user_id, name, expires_at`,
            [claims.nonce, provider],
          );
          return row ?? null;
        },
        { userId: claims.userId },
      )
      .catch((err: unknown) => {
        // A tenant that no longer exists: the state cannot be honoured.
        if (err instanceof Error && 'extensions' in err) throw oauthError(OAuthReason.STATE_INVALID, 'the connection attempt is no longer valid');
        throw err;
      });
    if (!pending || pending.user_id !== claims.userId) {
      throw oauthError(OAuthReason.STATE_USED, 'this authorisation response was already used; start the connection again');
    }
    if (new Date(pending.expires_at).getTime() <= Date.now()) throw oauthError(OAuthReason.STATE_EXPIRED, 'the connection attempt expired; start it again');
    if (query.get('error')) throw oauthError(OAuthReason.ACCESS_DENIED, 'the seller did not authorise the connection');
    const code = query.get('code');
    if (!code || !CODE.test(code)) throw oauthError(OAuthReason.CODE_REJECTED, 'the authorisation response carries no usable code');

    const tokens = await client.exchangeCode(code);
    const integration = await this.tenants.run(
      claims.tenantId,
      async (tx) => {
        // Still allowed to manage integrations? (Roles change; the state outlives none of them.)
        const [m] = await tx.em.execute<{ role: Role }[]>(`select role from public.membership where tenant_id = ? and user_id = ?`, [claims.tenantId, claims.userId]);
        if (!m || !mayDo(m.role, 'integration:write')) throw oauthError(OAuthReason.NOT_PERMITTED, 'the user who started this connection may no longer manage integrations');
        return this.store(tx, claims.userId, provider, tokens, pending.name);
      },
      { userId: claims.userId },
    );
    log().info({ tenantId: claims.tenantId, integrationId: integration.id, provider }, 'payment processor connected by OAuth');
    return integration;
  }

  /** Routes the account to this tenant (refusing one another tenant holds), then creates or renews its integration. */
  private async store(tx: TenantTx, userId: string, provider: PaymentProvider, tokens: OAuthGrant, name: string | null): Promise<PaymentIntegration> {
    const { em, tenantId, now } = tx;
    const accountId = tokens.accountId;
    const existing = await em.findOne(PaymentIntegration, { tenantId, provider, accountId });
    const id = existing?.id ?? randomUUID();
    const [routed] = await em.execute<{ integration_id: string }[]>(
      `insert into public.payment_account_route (provider, account_id, tenant_id, integration_id, created_at) values (?, ?, ?, ?, ?)
       on conflict (provider, account_id) do update set integration_id = excluded.integration_id
         where payment_account_route.tenant_id = excluded.tenant_id
       returning integration_id`,
      [provider, accountId, tenantId, id, now],
    );
    if (!routed) throw oauthError(OAuthReason.ACCOUNT_CONNECTED_ELSEWHERE, 'this account is already connected to another business on this platform');
    const creds: OAuthCredentials = {
      provider,
      kind: 'oauth',
      accountId,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresAt?.toISOString() ?? null,
      scopes: tokens.scopes,
    };
    const sealed = seal(this.keys, JSON.stringify(creds), integrationAad(tenantId, id));
    let integration: PaymentIntegration;
    if (existing) {
      existing.credentialsSealed = sealed;
      existing.status = 'ACTIVE';
      existing.tokenExpiresAt = tokens.expiresAt;
      if (name) existing.name = name;
      integration = existing;
    } else {
      integration = em.create(PaymentIntegration, {
        tenantId,
        id,
        provider,
        name: name ?? `${LABEL[provider]} ${accountId}`,
        credentialsSealed: sealed,
        status: 'ACTIVE',
        connection: PaymentConnection.OAUTH,
        accountId,
        tokenExpiresAt: tokens.expiresAt,
        createdAt: now,
      });
      em.create(IntegrationRoute, { integrationId: id, tenantId, provider, createdAt: now });
    }
    await em.flush();
    await tx.audit({
      eventType: 'integration.connected',
      actorId: userId,
      subjectType: 'PaymentIntegration',
      subjectId: id,
      data: { provider, connection: 'OAUTH', accountId, renewed: existing !== null },
    });
    return integration;
  }

  /**
   * Disconnects any integration. One connected by OAuth is revoked at the provider first (if that
   * fails, nothing changes and the error says so), its tokens dropped and its account unrouted.
   */
  async disconnect(scope: Scope, id: string): Promise<PaymentIntegration> {
    if (!isUuid(id)) throw notFound('payment integration');
    const found = await scope.tx(({ em }) => em.findOne(PaymentIntegration, { tenantId: scope.tenantId, id }));
    if (!found) throw notFound('payment integration');
    if (found.connection !== PaymentConnection.OAUTH || found.accountId === null) return this.integrations.disconnect(scope, id);
    const accountId = found.accountId;
    if (found.status === 'ACTIVE') {
      const client = this.client(found.provider);
      if (!client) throw notConfigured(found.provider);
      await client.revoke(accountId);
    }
    return scope.tx(async (tx) => {
      const i = await tx.em.findOneOrFail(PaymentIntegration, { tenantId: scope.tenantId, id });
      const creds: OAuthCredentials = { provider: i.provider, kind: 'oauth', accountId, accessToken: null, refreshToken: null, expiresAt: null, scopes: [], revoked: true };
      i.credentialsSealed = seal(this.keys, JSON.stringify(creds), integrationAad(scope.tenantId, id));
      i.status = 'DISCONNECTED';
      i.tokenExpiresAt = null;
      await tx.em.flush();
      await tx.em.execute(`delete from public.payment_account_route where provider = ? and account_id = ? and tenant_id = ?`, [i.provider, accountId, scope.tenantId]);
      await tx.audit({ eventType: 'integration.disconnected', actorId: scope.userId, subjectType: 'PaymentIntegration', subjectId: id, data: { provider: i.provider, connection: 'OAUTH', revoked: true } });
      return i;
    });
  }

  /**
   * Refreshes every connected account's access token that expires within `withinMs`, one tenant
   * transaction per account with its row locked (two workers never both refresh one). Counts only in logs.
   */
  async refreshDue(withinMs = REFRESH_WITHIN_MS): Promise<RefreshReport> {
    const report: RefreshReport = { refreshed: 0, failed: 0 };
    const client = this.square;
    if (!client) return report;
    const routes = await this.orm.em.fork().find(PaymentAccountRoute, { provider: PaymentProvider.SQUARE }, { orderBy: { tenantId: 'asc' } });
    for (const r of routes) {
      try {
        const done = await this.tenants.run(r.tenantId, async ({ em, now }) => {
          const [row] = await em.execute<{ credentials_sealed: string }[]>(
            `select credentials_sealed from payment_integration
              where tenant_id = ? and id = ? and connection = 'OAUTH' and status = 'ACTIVE' and token_expires_at < ?
              for update skip locked`,
            [r.tenantId, r.integrationId, new Date(now.getTime() + withinMs)],
          );
          if (!row) return false;
          const aad = integrationAad(r.tenantId, r.integrationId);
          const creds = JSON.parse(open(this.keys, row.credentials_sealed, aad)) as OAuthCredentials;
          if (!creds.refreshToken) return false;
          const next = await client.refresh(creds.refreshToken);
          const updated: OAuthCredentials = { ...creds, accessToken: next.accessToken, refreshToken: next.refreshToken ?? creds.refreshToken, expiresAt: next.expiresAt?.toISOString() ?? null };
          await em.execute(`update payment_integration set credentials_sealed = ?, token_expires_at = ? where tenant_id = ? and id = ?`, [
            seal(this.keys, JSON.stringify(updated), aad),
            next.expiresAt,
            r.tenantId,
            r.integrationId,
          ]);
          return true;
        });
        if (done) report.refreshed++;
      } catch (err) {
        report.failed++;
        log().warn({ tenantId: r.tenantId, integrationId: r.integrationId, reason: (err as { extensions?: { reason?: unknown } }).extensions?.reason ?? (err as Error).name }, 'OAuth token refresh failed');
      }
    }
    if (report.refreshed + report.failed > 0) log().info(report, 'OAuth token refresh pass');
    return report;
  }

  /**
   * A provider's app-level webhook, verified first with the platform's own key, then routed by the
   * account it names to the tenant that connected that account, and stored exactly as a
   * pasted-secret integration's delivery:
   * - Square: one subscription for the application, `x-square-hmacsha256-signature` over
   *   `<base>/webhooks/connect/square` + body with the app's signature key; routed by `merchant_id`;
   * - Stripe Connect: the platform's Connect endpoint, `Stripe-Signature` with its signing secret;
   *   routed by the event's `account`.
   */
  async ingestApp(providerName: string, request: RawWebhookRequest): Promise<WebhookOutcome> {
    const provider = providerNamed(providerName);
    const verifier = provider === null ? null : this.appVerifier(provider);
    const field = provider === null ? undefined : ACCOUNT_FIELD[provider];
    if (provider === null || !verifier || !field) return { status: 404, body: { error: 'UNKNOWN_INTEGRATION' } };
    let event;
    try {
      event = await verifier.verify(request);
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        log().warn({ provider, code: err.code }, 'app webhook refused');
        if (err.code === WebhookErrorCode.INVALID_SIGNATURE) recordSecurityEvent('webhook_signature_invalid');
        return { status: err.httpStatus, body: { error: err.code } };
      }
      throw err;
    }
    // Verified, so the body is the JSON object the verifier parsed.
    const body = JSON.parse(typeof request.rawBody === 'string' ? request.rawBody : request.rawBody.toString('utf8')) as Record<string, unknown>;
    const accountId = body[field];
    if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > 255) {
      // A Stripe event of the platform's own account (no `account`) is not a connected account's.
      return { status: 400, body: { error: WebhookErrorCode.MALFORMED_PAYLOAD } };
    }
    const route = await this.orm.em.fork().findOne(PaymentAccountRoute, { provider, accountId });
    if (!route) {
      log().warn({ provider }, 'app webhook for an account no tenant has connected');
      return { status: 404, body: { error: 'UNKNOWN_ACCOUNT' } };
    }
    noteRequest({ tenantId: route.tenantId });
    const outcome = await this.integrations.storeVerified(route.tenantId, route.integrationId, provider, event, request);
    // The seller disconnected the platform on the provider's side: the tokens are dead, so is the integration.
    if (outcome.status === 200 && body.type === REVOKED_EVENT[provider]) await this.revokedByProvider(route);
    return outcome;
  }

  /** Drops the tokens and the route of an account whose seller revoked the platform at the provider; audited as the system's act. */
  private async revokedByProvider(route: PaymentAccountRoute): Promise<void> {
    await this.tenants.run(route.tenantId, async (tx) => {
      const i = await tx.em.findOne(PaymentIntegration, { tenantId: route.tenantId, id: route.integrationId });
      if (!i || i.status !== 'ACTIVE') return;
      const creds: OAuthCredentials = { provider: i.provider, kind: 'oauth', accountId: route.accountId, accessToken: null, refreshToken: null, expiresAt: null, scopes: [], revoked: true };
      i.credentialsSealed = seal(this.keys, JSON.stringify(creds), integrationAad(route.tenantId, i.id));
      i.status = 'DISCONNECTED';
      i.tokenExpiresAt = null;
      await tx.em.flush();
      await tx.em.execute(`delete from public.payment_account_route where provider = ? and account_id = ? and tenant_id = ?`, [route.provider, route.accountId, route.tenantId]);
      await tx.audit({
        eventType: 'integration.disconnected',
        actorId: null,
        subjectType: 'PaymentIntegration',
        subjectId: i.id,
        data: { provider: i.provider, connection: 'OAUTH', revokedBy: 'provider', actorType: 'system' },
      });
    });
    log().info({ tenantId: route.tenantId, integrationId: route.integrationId, provider: route.provider }, 'payment integration revoked by the seller at the provider');
  }

  private appVerifier(provider: PaymentProvider): WebhookVerifier | null {
    if (provider === PaymentProvider.SQUARE) {
      const signatureKey = this.settings.square?.signatureKey;
      return signatureKey ? createSquareVerifier({ signatureKey, notificationUrl: this.integrations.connectWebhookUrl(provider) }) : null;
    }
    if (provider === PaymentProvider.STRIPE) {
      const webhookSecret = this.settings.stripe?.webhookSecret;
      return webhookSecret ? createStripeVerifier({ webhookSecret }) : null;
    }
    return null;
  }
}
