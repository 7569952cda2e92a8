import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import { recordAudit } from '../../lib/audit';
import type { EventBus } from '../../lib/bus';
import { open, seal, type KeyRing } from '../../lib/crypto/secret-box';
import { TenantDirectory, isUuid, withTenant } from '../../lib/db/tenant-context';
import { badInput, notFound } from '../../lib/errors';
import { log, noteRequest } from '../../lib/logger';
import { kickOutbox, outboxKicker } from '../../lib/outbox';
import { WebhookIntake, type IntakeRow } from './webhook-intake';
import { IntegrationRoute, PaymentIntegration, PaymentProvider } from './integration.entity';
import {
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
  | { provider: PaymentProvider.PAYPAL; clientId: string; clientSecret: string; webhookId: string };

export type ConnectInput = {
  provider: PaymentProvider;
  name: string;
  stripeWebhookSecret?: string | null;
  squareSignatureKey?: string | null;
  paypalClientId?: string | null;
  paypalClientSecret?: string | null;
  paypalWebhookId?: string | null;
};

export type WebhookOutcome = { status: 200 | 400 | 404 | 503; body: Record<string, unknown> };

type Resolved = { tenantId: string; provider: PaymentProvider; verifier: WebhookVerifier; at: number };
/** How long a resolved integration (route, status, opened credentials) is reused for intake. */
const RESOLVED_TTL_MS = 30_000;

const aad = (tenantId: string, id: string): string => `payment_integration:${tenantId}:${id}`;

function credentialsFrom(input: ConnectInput): IntegrationCredentials {
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

/** Payment integrations and the webhook intake: verify, store once, outbox, answer fast. */
export class IntegrationService {
  private readonly directory: TenantDirectory;
  private readonly resolved = new Map<string, Resolved>();
  private readonly intake: WebhookIntake;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly keys: KeyRing,
    private readonly opts: { publicWebhookBaseUrl?: string; paypalApiBaseUrl: string },
  ) {
    this.directory = new TenantDirectory(orm);
    // The relay is woken once per committed batch, coalesced further by outboxKicker.
    this.intake = new WebhookIntake(orm, this.directory, { onCommitted: outboxKicker(bus) });
  }

  /** Where providers deliver; when not configured, the tenant subgraph's own address once it listens. */
  setDefaultWebhookBaseUrl(url: string): void {
    this.opts.publicWebhookBaseUrl ??= url;
  }

  webhookUrl(i: Pick<PaymentIntegration, 'provider' | 'id'>): string {
    const base = this.opts.publicWebhookBaseUrl ?? 'http://127.0.0.1:4001';
    return `${base.replace(/\/+$/, '')}/webhooks/${i.provider}/${i.id}`;
  }

  list(scope: Scope): Promise<PaymentIntegration[]> {
    return scope.tx((em) => em.find(PaymentIntegration, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'asc' } }));
  }

  async connect(scope: Scope, input: ConnectInput): Promise<PaymentIntegration> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 120) throw badInput('name must be 1 to 120 characters', 'name');
    const creds = credentialsFrom(input);
    const id = randomUUID();
    const now = new Date();
    const integration = await scope.tx(async (em) => {
      const i = em.create(PaymentIntegration, {
        tenantId: scope.tenantId,
        id,
        provider: input.provider,
        name,
        credentialsSealed: seal(this.keys, JSON.stringify(creds), aad(scope.tenantId, id)),
        status: 'ACTIVE',
        createdAt: now,
      });
      em.create(IntegrationRoute, { integrationId: id, tenantId: scope.tenantId, provider: input.provider, createdAt: now });
      await em.flush();
      await recordAudit(em, {
        eventType: 'integration.connected',
        actorId: scope.userId,
        subjectType: 'PaymentIntegration',
        subjectId: id,
        data: { provider: input.provider, name },
      });
      return i;
    });
    await kickOutbox(this.bus);
    return integration;
  }

  async disconnect(scope: Scope, id: string): Promise<PaymentIntegration> {
    if (!isUuid(id)) throw notFound('payment integration');
    this.resolved.delete(id);
    const integration = await scope.tx(async (em) => {
      const i = await em.findOne(PaymentIntegration, { tenantId: scope.tenantId, id });
      if (!i) throw notFound('payment integration');
      i.status = 'DISCONNECTED';
      await em.flush();
      await recordAudit(em, {
        eventType: 'integration.disconnected',
        actorId: scope.userId,
        subjectType: 'PaymentIntegration',
        subjectId: id,
        data: { provider: i.provider },
      });
      return i;
    });
    this.resolved.delete(id);
    await kickOutbox(this.bus);
    return integration;
  }

  /** Route → tenant → active integration → verifier; cached briefly so intake does no lookups. */
  private async resolve(provider: string, integrationId: string): Promise<Resolved | null> {
    const hit = this.resolved.get(integrationId);
    if (hit && Date.now() - hit.at < RESOLVED_TTL_MS) return hit.provider === provider ? hit : null;
    const route = await this.orm.em.fork().findOne(IntegrationRoute, { integrationId });
    if (!route || route.provider !== provider) return null;
    const tenantId = route.tenantId;
    const integration = await withTenant(this.orm, this.directory, tenantId, (em) =>
      em.findOne(PaymentIntegration, { tenantId, id: integrationId, status: 'ACTIVE' }),
    );
    if (!integration) return null;
    const resolved = { tenantId, provider: integration.provider, verifier: this.verifierFor(integration), at: Date.now() };
    this.resolved.set(integrationId, resolved);
    return resolved;
  }

  private verifierFor(integration: PaymentIntegration): WebhookVerifier {
    const creds = JSON.parse(open(this.keys, integration.credentialsSealed, aad(integration.tenantId, integration.id))) as IntegrationCredentials;
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
        return { status: err.httpStatus, body: { error: err.code } };
      }
      throw err;
    }

    const id = randomUUID();
    const providerName = integration.provider;
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
        };
    // Event + outbox row in one statement (one transaction, RLS in force), coalesced with concurrent deliveries.
    const stored = await this.intake.store(tenantId, row);
    return { status: 200, body: { received: true, duplicate: stored.duplicate, ...(isIgnored(event) ? { ignored: event.reason } : {}) } };
  }
}

function rawType(raw: unknown): string {
  const r = raw as { type?: unknown; event_type?: unknown };
  return typeof r?.type === 'string' ? r.type : typeof r?.event_type === 'string' ? r.event_type : 'unknown';
}
