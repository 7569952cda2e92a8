import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { assertSchemaName } from '../../../lib/db/roles';
import type { TenantDirectory } from '../../../lib/db/tenant-context';
import { log } from '../../../lib/logger';
import { currentTraceparent, tracingEnabled } from '../../../lib/tracing';

/** One verified delivery, as it goes into `payment_event`. */
export type IntakeRow = {
  id: string;
  integrationId: string;
  provider: string;
  providerEventId: string;
  eventType: string;
  kind: 'REVENUE' | 'REFUND' | 'BALANCE' | 'IGNORED';
  amountCents: string | null;
  currency: string | null;
  providerObjectId: string | null;
  relatedPaymentId: string | null;
  occurredAt: Date | null;
  status: 'RECEIVED' | 'IGNORED';
  statusReason: string | null;
  raw: unknown;
  /** The exact delivery, only when `raw` could not hold it as it was (see storableJson). */
  rawBody: Buffer | null;
};

/**
 * A delivery PostgreSQL refused for its content (SQLSTATE class 22, data exception: a value out of
 * range, text it cannot hold). Retrying cannot help, so it is answered 4xx, not 5xx.
 */
export class UnstorableDeliveryError extends Error {
  constructor(readonly sqlState: string) {
    super(`the database refused the delivery's content (SQLSTATE ${sqlState})`);
    this.name = 'UnstorableDeliveryError';
  }
}

const sqlStateOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

export type IntakeOptions = {
  /** Rows per statement (one tenant per statement). */
  maxBatch?: number;
  /** Statements in flight at once; each holds one pooled connection for one round trip. */
  maxInFlight?: number;
  /** Called after each committed statement that inserted a new row (wakes the outbox relay). */
  onCommitted?: () => void;
};

/** What the intake needs from a pooled pg connection. */
type PgClient = { query<R>(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: R[] }> };
type KnexPool = { acquireConnection(): Promise<PgClient>; releaseConnection(c: PgClient): Promise<unknown> };

type Pending = { row: IntakeRow; resolve: (r: { duplicate: boolean }) => void; reject: (e: Error) => void; traceparent?: string };

/**
 * The statement that stores a batch of one tenant's deliveries: a single autocommit statement,
 * hence its own transaction, on the application role (RLS forced):
 *  - `ctx` sets `app.tenant_id` transaction-locally (is_local = true: it ends with the statement and
 *    cannot leak to the pooled connection's next user). Every inserted row takes its tenant_id from
 *    ctx, so each row exists only after set_config ran, and the RLS WITH CHECK
 *    (`tenant_id = current_setting('app.tenant_id')`) is evaluated against it for every row;
 *  - `e` inserts the events, read from one JSON array parameter (`d->'raw'` stays jsonb: no text
 *    round trip per row); a replayed provider event id, including one repeated inside the batch, is
 *    skipped by `on conflict do nothing`;
 *  - `o` writes the `payment-events` outbox row of every event that is new and not IGNORED, in the
 *    same statement, so an event never commits without its job or the other way round.
 * Table names are schema-qualified (the tenant's schema from the directory, validated), so no
 * search_path is needed; the text is constant per schema and runs as a named prepared statement.
 */
function insertSql(schema: string, traced = false): string {
  assertSchemaName(schema);
  return `with ctx as materialized (
  select set_config('app.tenant_id', $1::text, true)::uuid as tenant_id
), e as (
  insert into "${schema}".payment_event (tenant_id, id, integration_id, provider, provider_event_id, event_type, kind, amount_cents,
    currency, provider_object_id, related_payment_id, occurred_at, status, status_reason, raw, raw_body)
  select ctx.tenant_id, (d->>'id')::uuid, (d->>'integration_id')::uuid, d->>'provider', d->>'provider_event_id', d->>'event_type',
    d->>'kind', (d->>'amount_cents')::bigint, d->>'currency', d->>'provider_object_id', d->>'related_payment_id',
    (d->>'occurred_at')::timestamptz, d->>'status', d->>'status_reason', d->'raw', decode(d->>'raw_body', 'base64')
  from ctx cross join jsonb_array_elements($2::jsonb) as r(d)
  on conflict (tenant_id, provider, provider_event_id) do nothing
  returning tenant_id, id, kind
), o as (${traced ? tracedOutbox(schema) : outbox(schema)})
select id from e`;
}

const outbox = (schema: string): string => `
  insert into "${schema}".outbox (tenant_id, id, queue, job_name, payload)
  select e.tenant_id, gen_random_uuid(), 'payment-events', 'process', jsonb_build_object('paymentEventId', e.id)
  from e where e.kind <> 'IGNORED'
`;

/** With tracing on (lib/tracing.ts): each job row also takes the traceparent of the delivery's request, so its job joins that trace. */
const tracedOutbox = (schema: string): string => `
  insert into "${schema}".outbox (tenant_id, id, queue, job_name, payload, traceparent)
  select e.tenant_id, gen_random_uuid(), 'payment-events', 'process', jsonb_build_object('paymentEventId', e.id), t.d->>'traceparent'
  from e join jsonb_array_elements($2::jsonb) as t(d) on (t.d->>'id')::uuid = e.id
  where e.kind <> 'IGNORED'
`;

/** One element of the statement's JSON array parameter; bigint as a decimal string, dates as ISO strings. */
function toRecord(r: IntakeRow): Record<string, unknown> {
  return {
    id: r.id,
    integration_id: r.integrationId,
    provider: r.provider,
    provider_event_id: r.providerEventId,
    event_type: r.eventType,
    kind: r.kind,
    amount_cents: r.amountCents,
    currency: r.currency,
    provider_object_id: r.providerObjectId,
    related_payment_id: r.relatedPaymentId,
    occurred_at: r.occurredAt?.toISOString() ?? null,
    status: r.status,
    status_reason: r.statusReason,
    raw: r.raw,
    raw_body: r.rawBody?.toString('base64') ?? null,
  };
}

/**
 * Group commit for webhook deliveries. Each verified delivery waits for the statement that stores
 * it (the HTTP answer is sent only after commit). Deliveries that arrive while earlier statements
 * are in flight are coalesced per tenant into the next statement: one round trip and one WAL flush
 * for many events under load, and no added wait when idle (a lone delivery is flushed on the next
 * turn of the event loop).
 */
export class WebhookIntake {
  private readonly pending = new Map<string, Pending[]>();
  private readonly statements = new Map<string, { name: string; text: string }>();
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: TenantDirectory,
    private readonly opts: IntakeOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 200);
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
  }

  /** Stores one delivery; resolves once committed, `duplicate` when the provider event id was already stored. */
  store(tenantId: string, row: IntakeRow): Promise<{ duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      const list = this.pending.get(tenantId);
      const item: Pending = { row, resolve, reject, traceparent: currentTraceparent() };
      if (list) list.push(item);
      else this.pending.set(tenantId, [item]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // Let the deliveries already read in this turn of the event loop join the same statement.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.pending.size > 0) {
      // Oldest waiting tenant first (Map keeps insertion order); one with more than a batch left goes
      // to the back, so a flood from one tenant cannot starve the others.
      const [tenantId, list] = this.pending.entries().next().value as [string, Pending[]];
      const batch = list.splice(0, this.maxBatch);
      this.pending.delete(tenantId);
      if (list.length > 0) this.pending.set(tenantId, list);
      this.inFlight++;
      void this.flush(tenantId, batch).finally(() => {
        this.inFlight--;
        if (this.pending.size > 0) this.schedule();
      });
    }
  }

  private async flush(tenantId: string, batch: Pending[]): Promise<void> {
    try {
      const inserted = await this.insert(tenantId, batch);
      for (const p of batch) p.resolve({ duplicate: !inserted.has(p.row.id) });
      if (inserted.size > 0) this.opts.onCommitted?.();
    } catch (err) {
      const [only] = batch;
      if (batch.length === 1 && only) {
        const state = sqlStateOf(err);
        only.reject(state?.startsWith('22') ? new UnstorableDeliveryError(state) : (err as Error));
        return;
      }
      // One bad row must not fail its neighbours: store each alone, so only it gets the 5xx.
      log().warn({ tenantId, rows: batch.length, err: (err as Error).message }, 'webhook batch failed; storing its events one by one');
      await Promise.all(batch.map((p) => this.flush(tenantId, [p])));
    }
  }

  private async insert(tenantId: string, batch: Pending[]): Promise<Set<string>> {
    const schema = await this.directory.schemaOf(tenantId);
    const traced = tracingEnabled();
    const key = traced ? `${schema}\0traced` : schema;
    let statement = this.statements.get(key);
    if (!statement) {
      const text = insertSql(schema, traced);
      statement = { text, name: `abt_webhook_intake_${createHash('sha256').update(text).digest('hex').slice(0, 24)}` };
      this.statements.set(key, statement);
    }
    const records = batch.map((p) => (traced && p.traceparent ? { ...toRecord(p.row), traceparent: p.traceparent } : toRecord(p.row)));
    const pool = this.pool();
    const conn = await pool.acquireConnection();
    try {
      const result = await conn.query<{ id: string }>({ ...statement, values: [tenantId, JSON.stringify(records)] });
      return new Set(result.rows.map((r) => r.id));
    } finally {
      await pool.releaseConnection(conn);
    }
  }

  /** The ORM's own pool (knex → pg): same role, same limits as every other query of this process. */
  private pool(): KnexPool {
    return (this.orm.em.getConnection().getKnex() as unknown as { client: KnexPool }).client;
  }
}
