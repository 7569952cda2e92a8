import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import { open, seal, type KeyRing } from '../../../lib/crypto/secret-box';
import { badInput, notFound } from '../../../lib/errors';
import { NOTICE_TYPES, type NoticeType } from '../../../lib/events/notices';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { generateSigningSecret } from './webhook-signing';

export const WEBHOOKS_QUEUE = 'webhooks' as const;
export const WEBHOOK_ATTEMPT_JOB = 'webhook.attempt' as const;
/** How long the rotated-out secret keeps signing (a second v1=). */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
export const MAX_ENDPOINTS = 20;

export type EndpointView = {
  id: string;
  url: string;
  description: string;
  eventTypes: NoticeType[];
  enabled: boolean;
  createdAt: Date;
  previousSecretUntil: Date | null;
};
export type AttemptView = { attempt: number; statusCode: number | null; latencyMs: number; error: string | null; attemptedAt: Date };
export type DeliveryView = {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date | null;
  replayOf: string | null;
  createdAt: Date;
  attemptLog: AttemptView[];
};
export type CreateEndpointInput = { url: string; description?: string | null; eventTypes: readonly string[] };

type EndpointRow = {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  created_at: Date;
  previous_secret_until: Date | null;
};

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
export const secretAad = (tenantId: string, endpointId: string): string => `webhook_endpoint:${tenantId}:${endpointId}`;

/** https anywhere; http only to this machine and never in production. Credentials in the URL are refused (they would be logged). */
export function validateEndpointUrl(raw: string, env: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw badInput('url must be an absolute https URL', 'url');
  }
  if (u.username || u.password) throw badInput('url must not contain credentials', 'url');
  if (u.protocol === 'https:') return u.toString();
  if (u.protocol === 'http:' && LOCAL_HOSTS.has(u.hostname)) {
    if (env === 'production') throw badInput('url must use https (http to localhost is for development only)', 'url');
    return u.toString();
  }
  throw badInput('url must use https', 'url');
}

export function validateEventTypes(types: readonly string[]): NoticeType[] {
  const set = [...new Set(types)];
  if (set.length === 0) throw badInput('choose at least one event type', 'eventTypes');
  const unknown = set.filter((t) => !(NOTICE_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) throw badInput(`unknown event type ${unknown.join(', ')}; one of ${NOTICE_TYPES.join(', ')}`, 'eventTypes');
  return set as NoticeType[];
}

const view = (r: EndpointRow): EndpointView => ({
  id: r.id,
  url: r.url,
  description: r.description,
  eventTypes: r.event_types as NoticeType[],
  enabled: r.enabled,
  createdAt: new Date(r.created_at),
  previousSecretUntil: r.previous_secret_until ? new Date(r.previous_secret_until) : null,
});

const ENDPOINT_COLUMNS = `id::text as id, url, description, event_types, enabled, created_at, previous_secret_until`;

/** The first attempt of a delivery, through the outbox: it exists if and only if the delivery row commits. */
export async function enqueueFirstAttempt(tx: TenantTx, deliveryId: string): Promise<void> {
  await tx.outbox({ queue: WEBHOOKS_QUEUE, jobName: WEBHOOK_ATTEMPT_JOB, payload: { tenantId: tx.tenantId, deliveryId, attempt: 1 }, id: deliveryId });
}

/** Tenant admins' endpoints (`webhook:manage`): register, list, enable/disable, delete, rotate the secret, read the log, replay. */
export class WebhookEndpointService {
  constructor(
    private readonly keys: KeyRing,
    private readonly env: string,
  ) {}

  async create(scope: Scope, input: CreateEndpointInput): Promise<{ endpoint: EndpointView; secret: string }> {
    const url = validateEndpointUrl(input.url, this.env);
    const eventTypes = validateEventTypes(input.eventTypes);
    const description = (input.description ?? '').trim();
    if (description.length > 200) throw badInput('description must be at most 200 characters', 'description');
    const id = randomUUID();
    const secret = generateSigningSecret();
    return scope.tx(async (tx) => {
      const [{ n } = { n: 0 }] = await tx.em.execute<{ n: number }[]>(`select count(*)::int as n from webhook_endpoint`);
      if (n >= MAX_ENDPOINTS) throw badInput(`a tenant has at most ${MAX_ENDPOINTS} webhook endpoints`, 'url');
      const [row] = await tx.em.execute<EndpointRow[]>(
        `insert into webhook_endpoint (id, url, description, event_types, secret_sealed) values (?, ?, ?, ?::text[], ?) returning ${ENDPOINT_COLUMNS}`,
        [id, url, description, `{${eventTypes.join(',')}}`, seal(this.keys, secret, secretAad(scope.tenantId, id))],
      );
      await tx.audit({ eventType: 'webhook.endpoint_created', actorId: scope.userId, subjectType: 'WebhookEndpoint', subjectId: id, data: { url, eventTypes } });
      return { endpoint: view(row!), secret };
    });
  }

  list(scope: Scope): Promise<EndpointView[]> {
    return scope.tx(async ({ em }) => (await em.execute<EndpointRow[]>(`select ${ENDPOINT_COLUMNS} from webhook_endpoint order by created_at, id`)).map(view));
  }

  setEnabled(scope: Scope, id: string, enabled: boolean): Promise<EndpointView> {
    return scope.tx(async (tx) => {
      const [row] = await tx.em.execute<EndpointRow[]>(`update webhook_endpoint set enabled = ?, updated_at = now() where id = ? returning ${ENDPOINT_COLUMNS}`, [enabled, uuidOr404(id)]);
      if (!row) throw notFound('webhook endpoint');
      await tx.audit({ eventType: enabled ? 'webhook.endpoint_enabled' : 'webhook.endpoint_disabled', actorId: scope.userId, subjectType: 'WebhookEndpoint', subjectId: id, data: {} });
      return view(row);
    });
  }

  delete(scope: Scope, id: string): Promise<boolean> {
    return scope.tx(async (tx) => {
      const endpointId = uuidOr404(id);
      const rows = await tx.em.execute<{ id: string }[]>(`delete from webhook_endpoint where id = ? returning id`, [endpointId]);
      if (rows.length === 0) throw notFound('webhook endpoint');
      // Tenant tables carry no foreign keys (rows move between schemas table by table): its log goes in the same transaction.
      await tx.em.execute(`delete from webhook_attempt where delivery_id in (select id from webhook_delivery where endpoint_id = ?)`, [endpointId]);
      await tx.em.execute(`delete from webhook_delivery where endpoint_id = ?`, [endpointId]);
      await tx.audit({ eventType: 'webhook.endpoint_deleted', actorId: scope.userId, subjectType: 'WebhookEndpoint', subjectId: id, data: {} });
      return true;
    });
  }

  /** A new secret; the current one keeps signing beside it for ROTATION_OVERLAP_MS, then is dropped. */
  rotateSecret(scope: Scope, id: string): Promise<{ endpoint: EndpointView; secret: string }> {
    const secret = generateSigningSecret();
    return scope.tx(async (tx) => {
      const [cur] = await tx.em.execute<{ secret_sealed: string }[]>(`select secret_sealed from webhook_endpoint where id = ? for update`, [uuidOr404(id)]);
      if (!cur) throw notFound('webhook endpoint');
      const aad = secretAad(scope.tenantId, id);
      // Re-sealed under the ring's current key: the old secret stays readable after a key rotation.
      const previous = seal(this.keys, open(this.keys, cur.secret_sealed, aad), aad);
      const until = new Date(tx.now.getTime() + ROTATION_OVERLAP_MS);
      const [row] = await tx.em.execute<EndpointRow[]>(
        `update webhook_endpoint set secret_sealed = ?, previous_secret_sealed = ?, previous_secret_until = ?, updated_at = now() where id = ? returning ${ENDPOINT_COLUMNS}`,
        [seal(this.keys, secret, aad), previous, until, id],
      );
      await tx.audit({ eventType: 'webhook.secret_rotated', actorId: scope.userId, subjectType: 'WebhookEndpoint', subjectId: id, data: { previousSecretUntil: until.toISOString() } });
      return { endpoint: view(row!), secret };
    });
  }

  deliveries(scope: Scope, endpointId: string, limit = 50): Promise<DeliveryView[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw badInput('limit must be 1 to 200', 'limit');
    return scope.tx(async ({ em }) => {
      const [ep] = await em.execute<{ id: string }[]>(`select id from webhook_endpoint where id = ?`, [uuidOr404(endpointId)]);
      if (!ep) throw notFound('webhook endpoint');
      const rows = await em.execute<DeliveryRow[]>(`select ${DELIVERY_COLUMNS} from webhook_delivery where endpoint_id = ? order by created_at desc, id limit ?`, [endpointId, limit]);
      return withAttempts(em, rows);
    });
  }

  /** Sends a past delivery again: a new delivery of the same event (same body and event id), signed afresh. */
  replay(scope: Scope, deliveryId: string): Promise<DeliveryView> {
    return scope.tx(async (tx) => {
      const [d] = await tx.em.execute<{ endpoint_id: string; notice_id: string; event_type: string; body: string }[]>(
        `select d.endpoint_id::text as endpoint_id, d.notice_id::text as notice_id, d.event_type, d.body from webhook_delivery d where d.id = ?`,
        [uuidOr404(deliveryId)],
      );
      if (!d) throw notFound('webhook delivery');
      const id = randomUUID();
      const [row] = await tx.em.execute<DeliveryRow[]>(
        `insert into webhook_delivery (id, endpoint_id, notice_id, event_type, body, replay_of) values (?, ?, ?, ?, ?, ?) returning ${DELIVERY_COLUMNS}`,
        [id, d.endpoint_id, d.notice_id, d.event_type, d.body, deliveryId],
      );
      await enqueueFirstAttempt(tx, id);
      await tx.audit({ eventType: 'webhook.delivery_replayed', actorId: scope.userId, subjectType: 'WebhookDelivery', subjectId: id, data: { replayOf: deliveryId } });
      return (await withAttempts(tx.em, [row!]))[0]!;
    });
  }
}

type DeliveryRow = {
  id: string;
  endpoint_id: string;
  notice_id: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: Date | null;
  replay_of: string | null;
  created_at: Date;
};
const DELIVERY_COLUMNS = `id::text as id, endpoint_id::text as endpoint_id, notice_id::text as notice_id, event_type, status, attempts, next_attempt_at, replay_of::text as replay_of, created_at`;

async function withAttempts(em: EntityManager, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  if (rows.length === 0) return [];
  const attempts = await em.execute<{ delivery_id: string; attempt: number; status_code: number | null; latency_ms: number; error: string | null; attempted_at: Date }[]>(
    `select delivery_id::text as delivery_id, attempt, status_code, latency_ms, error, attempted_at from webhook_attempt where delivery_id = any(?::uuid[]) order by attempt`,
    [`{${rows.map((r) => r.id).join(',')}}`],
  );
  return rows.map((r) => ({
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.notice_id,
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    replayOf: r.replay_of,
    createdAt: new Date(r.created_at),
    attemptLog: attempts
      .filter((a) => a.delivery_id === r.id)
      .map((a) => ({ attempt: a.attempt, statusCode: a.status_code, latencyMs: a.latency_ms, error: a.error, attemptedAt: new Date(a.attempted_at) })),
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A malformed id is "not found", like another tenant's (never a database error). */
function uuidOr404(id: string): string {
  if (!UUID.test(id)) throw notFound('webhook endpoint or delivery');
  return id;
}
