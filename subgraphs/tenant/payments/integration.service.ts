import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import type { EventBus } from '../../../lib/bus';
import { keyIdOf, open, reseal, seal, type KeyRing } from '../../../lib/crypto/secret-box';
import { TenantDirectory, isUuid } from '../../../lib/db/tenant-context';
import { TenantTransactions } from '../../../lib/db/tenant-tx';
import { badInput, notFound } from '../../../lib/errors';
import { recordSecurityEvent } from '../../../lib/metrics';
import { log, noteRequest } from '../../../lib/logger';
import { outboxKicker } from '../../../lib/outbox';
import { hasUnstorableText, storableJson, storableText } from '../../../lib/storable-text';
import { UnstorableDeliveryError, WebhookIntake, type IntakeRow } from './webhook-intake';
import { IntegrationRoute, PaymentConnection, PaymentIntegration, PaymentProvider } from './integration.entity';
import type { OAuthCredentials } from './oauth/oauth-credentials';
import {
  WebhookErrorCode,
  WebhookVerificationError,
  createPayPalVerifier,
  createSquareVerifier,
  createStripeVerifier,
  isIgnored,
  type RawWebhookRequest,
  type RevenueEventResult,
  type WebhookVerifier,
} from './webhooks';

export type IntegrationCredentials =
  | { provider: PaymentProvider.STRIPE; webhookSecret: string }
  | { provider: PaymentProvider.SQUARE; signatureKey: string }
  | { provider: PaymentProvider.PAYPAL; clientId: string; clientSecret: string; webhookId: string }
  | OAuthCredentials;

export type ConnectInput = {
  provider: PaymentProvider;
  name: string;
  stripeWebhookSecret?: string | null;
  squareSignatureKey?: string | null;
  paypalClientId?: string | null;
  paypalClientSecret?: string | null;
  paypalWebhookId?: string | null;
};

/** What a re-seal pass did: values moved to the current key, values it could not open, tenants touched. */
export type ResealReport = { resealed: number; failed: number; tenants: number };

export type WebhookOutcome = { status: 200 | 400 | 404 | 503; body: Record<string, unknown> };

/** `\u0000` or a surrogate escape in JSON text: the only ways a delivery's parsed form can hold what PostgreSQL cannot. */
const ESCAPE_TO_CHECK = /\\u(?:0000|[dD][89a-fA-F])/;

const TEXT_COLUMNS = ['providerEventId', 'eventType', 'providerObjectId', 'relatedPaymentId', 'currency', 'statusReason'] as const;

/**
 * What PostgreSQL cannot store (U+0000 anywhere, an unpaired surrogate in jsonb) becomes U+FFFD in
 * every column of the row, and the exact bytes go to `raw_body`, so nothing of the signed delivery
 * is lost. The same bytes always give the same row, so a redelivery is still a duplicate.
 */
export function storableRow(row: IntakeRow, request: RawWebhookRequest): IntakeRow {
  const body = typeof request.rawBody === 'string' ? Buffer.from(request.rawBody, 'utf8') : request.rawBody;
  // Decoded bytes hold no unpaired surrogate and JSON holds no raw U+0000: only escapes can make them (a string body is checked as is).
  const text = typeof request.rawBody === 'string' ? request.rawBody : body.toString('utf8');
  if (!ESCAPE_TO_CHECK.test(text) && !(typeof request.rawBody === 'string' && hasUnstorableText(text))) return row;
  const raw = storableJson(row.raw);
  const clean = (t: string | null): string | null => (t === null ? null : storableText(t));
  const next: IntakeRow = {
    ...row,
    providerEventId: storableText(row.providerEventId),
    eventType: storableText(row.eventType),
    providerObjectId: clean(row.providerObjectId),
    relatedPaymentId: clean(row.relatedPaymentId),
    currency: clean(row.currency),
    statusReason: clean(row.statusReason),
    raw: raw.value,
  };
  const altered = raw.altered || TEXT_COLUMNS.some((k) => next[k] !== row[k]);
  return altered ? { ...next, rawBody: body } : row;
}

type Resolved = { tenantId: string; provider: PaymentProvider; verifier: WebhookVerifier; at: number };
/** How long a resolved integration (route, status, opened credentials) is reused for intake. */
const RESOLVED_TTL_MS = 30_000;

/** The associated data every integration's sealed credentials are bound to (pasted secrets and OAuth tokens alike). */
export const integrationAad = (tenantId: string, id: string): string => `payment_integration:${tenantId}:${id}`;
const aad = integrationAad;

function credentialsFrom(input: ConnectInput): Exclude<IntegrationCredentials, OAuthCredentials> {
  const need = (v: string | null | undefined, field: string): string => {
    if (typeof v !== 'string' || v.trim().length < 8 || v.length > 500) throw badInput(`${field} is required for ${input.provider}`, field);
    return v.trim();
  };
  switch (input.provider) {
    case PaymentProvider.STRIPE:
      return { provider: input.provider, webhookSecret: need(input.stripeWebhookSecret, 'stripeWebhookSecret') };
    case PaymentProvider.SQUARE:
      return { provider: input.provider, signatureKey: need(input.squareSignatureKey, 'squareSignatureKey') };
    case PaymentProvider.PAYPAL:
      return {
        provider: input.provider,
        clientId: need(input.paypalClientId, 'paypalClientId'),
        clientSecret: need(input.paypalClientSecret, 'paypalClientSecret'),
        webhookId: need(input.paypalWebhookId, 'paypalWebhookId'),
      };
  }
}

/** A listening address as a URL others can reach: a wildcard bind address (0.0.0.0, ::) is no destination. */
function reachable(url: string): string {
  const u = new URL(url);
  if (u.hostname !== '0.0.0.0' && u.hostname !== '[::]') return url;
  log().warn({ listening: url }, 'webhook URLs default to localhost; set PUBLIC_WEBHOOK_BASE_URL to the address providers reach');
  u.hostname = '127.0.0.1';
  return u.toString().replace(/\/+$/, '');
}

/** Payment integrations and the webhook intake: verify, store once, outbox, answer fast. */
export class IntegrationService {
  private readonly directory: TenantDirectory;
  private readonly tenants: TenantTransactions;
  private readonly resolved = new Map<string, Resolved>();
  private readonly defaults: { tenant?: string; gateway?: string } = {};
  private readonly intake: WebhookIntake;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly keys: KeyRing,
    private readonly opts: { publicWebhookBaseUrl?: string; paypalApiBaseUrl: string },
  ) {
    this.directory = new TenantDirectory(orm);
    this.tenants = new TenantTransactions(orm, this.directory, bus);
    // The relay is woken once per committed batch, coalesced further by outboxKicker.
    this.intake = new WebhookIntake(orm, this.directory, { onCommitted: outboxKicker(bus) });
  }

  /**
   * Where providers deliver when PUBLIC_WEBHOOK_BASE_URL is not set: the gateway's address when it
   * runs in this process (it relays /webhooks/* to this subgraph), else this subgraph's own.
   */
  setDefaultWebhookBaseUrl(url: string, from: 'tenant' | 'gateway' = 'tenant'): void {
    this.defaults[from] = reachable(url);
    // Square verifiers sign over the URL: drop those built with the previous one.
    this.resolved.clear();
  }

  /** The URL a user registers with the provider; Square signs exactly this, so its verifier uses it too. */
  webhookUrl(i: Pick<PaymentIntegration, 'provider' | 'id'>): string {
    const base = this.opts.publicWebhookBaseUrl ?? this.defaults.gateway ?? this.defaults.tenant ?? 'http://127.0.0.1:4000';
    return `${base.replace(/\/+$/, '')}/webhooks/${i.provider}/${i.id}`;
  }

  /** The one platform-level URL for a provider's app-level webhooks (Square's application subscription, Stripe Connect). */
  connectWebhookUrl(provider: PaymentProvider): string {
    const base = this.opts.publicWebhookBaseUrl ?? this.defaults.gateway ?? this.defaults.tenant ?? 'http://127.0.0.1:4000';
    return `${base.replace(/\/+$/, '')}/webhooks/connect/${provider}`;
  }

  list(scope: Scope): Promise<PaymentIntegration[]> {
    return scope.tx(({ em }) => em.find(PaymentIntegration, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'asc' } }));
  }

  async connect(scope: Scope, input: ConnectInput): Promise<PaymentIntegration> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 120) throw badInput('name must be 1 to 120 characters', 'name');
    const creds = credentialsFrom(input);
    const id = randomUUID();
    const now = new Date();
    const integration = await scope.tx(async (tx) => {
      const { em } = tx;
      const i = em.create(PaymentIntegration, {
        tenantId: scope.tenantId,
        id,
        provider: input.provider,
        name,
        credentialsSealed: seal(this.keys, JSON.stringify(creds), aad(scope.tenantId, id)),
        status: 'ACTIVE',
        connection: PaymentConnection.SECRET,
        accountId: null,
        tokenExpiresAt: null,
        createdAt: now,
      });
      em.create(IntegrationRoute, { integrationId: id, tenantId: scope.tenantId, provider: input.provider, createdAt: now });
      await em.flush();
      await tx.audit({
        eventType: 'integration.connected',
        actorId: scope.userId,
        subjectType: 'PaymentIntegration',
        subjectId: id,
        data: { provider: input.provider, name },
      });
      return i;
    });
    return integration;
  }

  async disconnect(scope: Scope, id: string): Promise<PaymentIntegration> {
    if (!isUuid(id)) throw notFound('payment integration');
    this.resolved.delete(id);
    const integration = await scope.tx(async (tx) => {
      const { em } = tx;
      const i = await em.findOne(PaymentIntegration, { tenantId: scope.tenantId, id });
      if (!i) throw notFound('payment integration');
      i.status = 'DISCONNECTED';
      await em.flush();
      await tx.audit({
        eventType: 'integration.disconnected',
        actorId: scope.userId,
        subjectType: 'PaymentIntegration',
        subjectId: id,
        data: { provider: i.provider },
      });
      return i;
    });
    this.resolved.delete(id);
    return integration;
  }

  /**
   * Re-seals every tenant's integration credentials that are not under the ring's current key, one
   * tenant transaction each (row-level security in force, rows locked), audited with counts and key
   * ids only. Idempotent: a second pass, or one racing it, finds nothing to do.
   */
  async resealCredentials(): Promise<ResealReport> {
    const report: ResealReport = { resealed: 0, failed: 0, tenants: 0 };
    const tenants = await this.orm.em.fork().getConnection().execute<{ id: string }[]>(`select id from public.tenant order by id`);
    const current = this.keys.current;
    for (const { id: tenantId } of tenants) {
      try {
        const n = await this.tenants.run(tenantId, async ({ em, audit }) => {
          const rows = await em.execute<{ id: string; sealed: string }[]>(
            `select id, credentials_sealed as sealed from payment_integration where tenant_id = ? and split_part(credentials_sealed, '.', 2) <> ? for update`,
            [tenantId, current],
          );
          const from = new Set<string>();
          let done = 0;
          for (const r of rows) {
            try {
              const next = reseal(this.keys, r.sealed, aad(tenantId, r.id));
              await em.execute(`update payment_integration set credentials_sealed = ? where tenant_id = ? and id = ?`, [next, tenantId, r.id]);
              from.add(keyIdOf(r.sealed));
              done++;
            } catch (err) {
              // A value no key of the ring opens stays as it is (and is counted): never a partial write, never its content in a log.
              report.failed++;
              log().error({ tenantId, integrationId: r.id, err: (err as Error).name }, 'integration credentials could not be re-sealed');
            }
          }
          if (done > 0) {
            await audit({
              eventType: 'keys.credentials_resealed',
              actorId: null,
              subjectType: 'Tenant',
              subjectId: tenantId,
              data: { integrations: done, fromKeyIds: [...from].sort(), toKeyId: current, actorType: 'system' },
            });
          }
          return done;
        });
        if (n > 0) report.tenants++;
        report.resealed += n;
      } catch (err) {
        report.failed++;
        log().warn({ tenantId, err: (err as Error).message }, 'integration re-seal skipped a tenant');
      }
    }
    return report;
  }

  /** Route → tenant → active integration → verifier; cached briefly so intake does no lookups. */
  private async resolve(provider: string, integrationId: string): Promise<Resolved | null> {
    const hit = this.resolved.get(integrationId);
    if (hit && Date.now() - hit.at < RESOLVED_TTL_MS) return hit.provider === provider ? hit : null;
    const route = await this.orm.em.fork().findOne(IntegrationRoute, { integrationId });
    if (!route || route.provider !== provider) return null;
    const tenantId = route.tenantId;
    const integration = await this.tenants.run(tenantId, ({ em }) =>
      em.findOne(PaymentIntegration, { tenantId, id: integrationId, status: 'ACTIVE' }),
    );
    if (!integration) return null;
    const verifier = this.verifierFor(integration);
    // Connected by OAuth: its deliveries come to the app-level endpoint (/webhooks/connect/:provider), never here.
    if (!verifier) return null;
    const resolved = { tenantId, provider: integration.provider, verifier, at: Date.now() };
    this.resolved.set(integrationId, resolved);
    return resolved;
  }

  private verifierFor(integration: PaymentIntegration): WebhookVerifier | null {
    const creds = JSON.parse(open(this.keys, integration.credentialsSealed, aad(integration.tenantId, integration.id))) as IntegrationCredentials;
    if ('kind' in creds) return null;
    switch (creds.provider) {
      case PaymentProvider.STRIPE:
        return createStripeVerifier({ webhookSecret: creds.webhookSecret });
      case PaymentProvider.SQUARE:
        return createSquareVerifier({ signatureKey: creds.signatureKey, notificationUrl: this.webhookUrl(integration) });
      case PaymentProvider.PAYPAL:
        return createPayPalVerifier({ baseUrl: this.opts.paypalApiBaseUrl, clientId: creds.clientId, clientSecret: creds.clientSecret, webhookId: creds.webhookId });
    }
  }

  /**
   * One webhook delivery. Unknown integration → 404; bad signature, stale timestamp or malformed
   * body → 400; verifier down → 503 (the provider retries). Nothing is stored unless verified.
   */
  async ingest(provider: string, integrationId: string, request: RawWebhookRequest): Promise<WebhookOutcome> {
    if (!isUuid(integrationId) || !Object.values(PaymentProvider).includes(provider as PaymentProvider)) {
      return { status: 404, body: { error: 'UNKNOWN_INTEGRATION' } };
    }
    const integration = await this.resolve(provider, integrationId);
    if (!integration) return { status: 404, body: { error: 'UNKNOWN_INTEGRATION' } };
    const tenantId = integration.tenantId;
    noteRequest({ tenantId }); // the delivery's access-log line names its tenant

    let event: RevenueEventResult;
    try {
      event = await integration.verifier.verify(request);
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        log().warn({ tenantId, integrationId, provider, code: err.code }, 'webhook refused');
        if (err.code === WebhookErrorCode.INVALID_SIGNATURE) recordSecurityEvent('webhook_signature_invalid');
        return { status: err.httpStatus, body: { error: err.code } };
      }
      throw err;
    }

    return this.storeVerified(tenantId, integrationId, integration.provider, event, request);
  }

  /**
   * Stores one delivery already verified (by its integration's verifier, or an app-level one that
   * routed it here by the connected account): event + outbox row in one statement, once per event id.
   */
  async storeVerified(tenantId: string, integrationId: string, providerName: PaymentProvider, event: RevenueEventResult, request: RawWebhookRequest): Promise<WebhookOutcome> {
    const id = randomUUID();
    // Built as one literal per shape (no spreads): this runs for every delivery.
    const row: IntakeRow = isIgnored(event)
      ? {
          id,
          integrationId,
          provider: providerName,
          providerEventId: event.providerEventId,
          eventType: event.type,
          kind: 'IGNORED',
          amountCents: null,
          currency: null,
          providerObjectId: null,
          relatedPaymentId: null,
          occurredAt: null,
          status: 'IGNORED',
          statusReason: event.reason,
          raw: { ignored: event.type },
          rawBody: null,
        }
      : {
          id,
          integrationId,
          provider: providerName,
          providerEventId: event.providerEventId,
          eventType: rawType(event.raw),
          kind: event.kind,
          amountCents: event.amountCents.toString(),
          currency: event.currency,
          providerObjectId: event.providerObjectId,
          relatedPaymentId: event.relatedPaymentId ?? null,
          occurredAt: event.occurredAt,
          status: 'RECEIVED',
          statusReason: null,
          raw: event.raw,
          rawBody: null,
        };
    // Event + outbox row in one statement (one transaction, RLS in force), coalesced with concurrent deliveries.
    let stored: { duplicate: boolean };
    try {
      stored = await this.intake.store(tenantId, storableRow(row, request));
    } catch (err) {
      if (!(err instanceof UnstorableDeliveryError)) throw err;
      // Its content, not our state: a retry cannot succeed, so the provider gets a 4xx, not a 5xx to retry for days.
      log().error({ tenantId, integrationId, provider: providerName, sqlState: err.sqlState }, 'webhook refused: the database cannot store its content');
      return { status: 400, body: { error: 'UNSTORABLE_PAYLOAD' } };
    }
    return { status: 200, body: { received: true, duplicate: stored.duplicate, ...(isIgnored(event) ? { ignored: event.reason } : {}) } };
  }
}

function rawType(raw: unknown): string {
  const r = raw as { type?: unknown; event_type?: unknown };
  return typeof r?.type === 'string' ? r.type : typeof r?.event_type === 'string' ? r.event_type : 'unknown';
}
