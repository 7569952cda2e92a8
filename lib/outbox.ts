import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { EventBus, Unsubscribe } from './bus';
import { OUTBOX_KICK_CHANNEL } from './events';
import { log, withCorrelation } from './logger';
import { observeOutboxPass } from './metrics';
import { tracePublish } from './tracing';
import type { BulkJob, JobPayload, JobQueue, QueueName } from './queue';
import { assertSchemaName } from './db/roles';

export type OutboxMessage = { queue: QueueName; jobName: string; payload: JobPayload; id?: string };

const KICK = OUTBOX_KICK_CHANNEL;

/**
 * Writes a job into the tenant's outbox inside the caller's transaction: the job exists if and
 * only if the change commits. The relay enqueues it with the outbox id as its job id.
 */
export async function addToOutbox(em: EntityManager, msg: OutboxMessage): Promise<string> {
  const id = msg.id ?? randomUUID();
  await em.execute(`insert into outbox (id, queue, job_name, payload) values (?, ?, ?, ?::jsonb) on conflict do nothing`, [
    id,
    msg.queue,
    msg.jobName,
    JSON.stringify(msg.payload),
  ]);
  return id;
}

/** Tells the relay there is work now rather than at its next poll. Best effort. */
export async function kickOutbox(bus: EventBus): Promise<void> {
  await bus.publish(KICK, { __typename: 'OutboxKick', version: 1 }).catch(() => undefined);
}

/**
 * A coalescing kickOutbox for hot paths (webhook intake): the first call publishes at once, calls
 * within the next `windowMs` become one more publish at the end of the window. Fire and forget.
 */
export function outboxKicker(bus: EventBus, windowMs = 5): () => void {
  let timer: NodeJS.Timeout | undefined;
  let wanted = false;
  const open = (): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (wanted) {
        wanted = false;
        void kickOutbox(bus);
        open();
      }
    }, windowMs);
    timer.unref();
  };
  return () => {
    if (timer) {
      wanted = true;
      return;
    }
    void kickOutbox(bus);
    open();
  };
}

type Row = { tenant_id: string; id: string; queue: QueueName; job_name: string; payload: JobPayload; correlation_id: string | null; traceparent: string | null; age_s: number };


/** What the relay needs from a pooled pg connection (simple-query protocol, multi-statement). */
type PgResult = { rows: unknown[] };
type PgClient = { query(text: string): Promise<PgResult | PgResult[]> };
type KnexPool = { acquireConnection(): Promise<PgClient>; releaseConnection(c: PgClient): Promise<unknown> };

/** Rows claimed per statement; one round trip to Redis enqueues them all when the queue supports it. */
const BATCH = 500;
/** Kicks that arrive within this window share one pass (commits arrive in bursts under load). */
const COALESCE_MS = 5;
/** Dedicated schemas are listed again at most this often (a new one waits at most this long). */
const SCHEMAS_TTL_MS = 1000;

/** Moves committed outbox rows of every tenant schema onto the job queue. Runs as the relay role. */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private dueAt = Number.POSITIVE_INFINITY;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private unsubscribe?: Unsubscribe;
  private schemas?: { list: string[]; at: number };

  constructor(
    private readonly orm: MikroORM,
    private readonly queue: JobQueue,
    private readonly bus: EventBus,
    private readonly pollMs: number,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(KICK, () => this.kick());
    this.schedule(0);
  }

  /** Asks for a pass soon: kicks within COALESCE_MS share one; a kick during a pass causes one more after it. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(COALESCE_MS);
  }

  /** Arms the timer for a pass in delayMs, unless one is already due sooner. */
  private schedule(delayMs: number): void {
    const due = Date.now() + delayMs;
    if (this.timer && this.dueAt <= due) return;
    clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Number.POSITIVE_INFINITY;
      this.pass();
    }, delayMs);
  }

  private pass(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = withCorrelation('outbox-relay', {}, () => this.drain())
      .then(() => undefined)
      .catch((err: Error) => log().warn({ err: err.message }, 'outbox relay pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.schedule(COALESCE_MS);
        } else {
          this.schedule(this.pollMs);
        }
      });
  }

  /** One pass over every schema; returns how many jobs it enqueued. */
  async drain(): Promise<number> {
    const pool = (this.orm.em.getConnection().getKnex() as unknown as { client: KnexPool }).client;
    const conn = await pool.acquireConnection();
    try {
      let total = 0;
      let oldest = 0;
      for (const schema of await this.schemaList(conn)) {
        for (;;) {
          const { n, oldestAgeS } = await this.drainBatch(conn, schema);
          total += n;
          oldest = Math.max(oldest, oldestAgeS);
          if (n < BATCH) break;
        }
      }
      // Outbox lag: how long the oldest row this pass moved had waited (abt_outbox_lag_seconds).
      observeOutboxPass(oldest);
      return total;
    } finally {
      await pool.releaseConnection(conn);
    }
  }

  private async schemaList(conn: PgClient): Promise<string[]> {
    if (this.schemas && Date.now() - this.schemas.at < SCHEMAS_TTL_MS) return this.schemas.list;
    const result = (await conn.query(
      `select 'pool' as schema_name union select distinct schema_name from public.tenant where schema_name <> 'pool'`,
    )) as PgResult;
    const list = (result.rows as { schema_name: string }[]).map((r) => r.schema_name);
    list.forEach(assertSchemaName);
    this.schemas = { list, at: Date.now() };
    return list;
  }

  /**
   * Claims up to BATCH unpublished rows (begin + claim in one round trip; rows locked by another
   * relay are skipped), enqueues them with the outbox id as the job id, then commits. If enqueueing
   * fails the transaction rolls back and the rows are claimed again later; a job that did reach the
   * queue is not duplicated because its id is the outbox id.
   */
  private async drainBatch(conn: PgClient, schema: string): Promise<{ n: number; oldestAgeS: number }> {
    assertSchemaName(schema);
    const results = (await conn.query(
      `begin;
       with claimed as (
         update "${schema}".outbox o set published_at = now()
         from (select tenant_id, id from "${schema}".outbox where published_at is null
               order by created_at limit ${BATCH} for update skip locked) c
         where o.tenant_id = c.tenant_id and o.id = c.id
         returning o.tenant_id, o.id, o.queue, o.job_name, o.payload, o.created_at, o.correlation_id, o.traceparent)
       select tenant_id, id, queue, job_name, payload, correlation_id, traceparent,
              extract(epoch from clock_timestamp() - created_at)::float8 as age_s
       from claimed order by created_at`,
    )) as PgResult[];
    try {
      const claimed = results[1];
      if (claimed === undefined) throw new Error('outbox claim: expected a result for the claiming statement');
      const rows = claimed.rows as Row[];
      const [oldest] = rows;
      if (rows.length > 0) await this.enqueue(rows);
      await conn.query('commit');
      return { n: rows.length, oldestAgeS: oldest ? Number(oldest.age_s) : 0 };
    } catch (err) {
      await conn.query('rollback').catch(() => undefined);
      throw err;
    }
  }

  private async enqueue(rows: Row[]): Promise<void> {
    // A `publish` span per traced row, a child of the request that wrote it; its job's span is a child of this one.
    const spans = rows.map((r) => tracePublish(r.queue, r.id, r.traceparent, r.correlation_id));
    const jobs: BulkJob[] = rows.map((r, i) => {
      const traceparent = spans[i]?.traceparent;
      return {
        queue: r.queue,
        name: r.job_name,
        // The request's correlation id (and trace) go with its job, so both log under one id and show in one trace.
        data: { ...r.payload, tenantId: r.tenant_id, ...(r.correlation_id ? { correlationId: r.correlation_id } : {}), ...(traceparent ? { traceparent } : {}) },
        opts: { jobId: r.id },
      };
    });
    try {
      await this.queue.addBulk(jobs);
      spans.forEach((s) => s.end());
    } catch (err) {
      spans.forEach((s) => s.end(err));
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.unsubscribe?.();
    await this.running;
  }
}
