import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { EventBus, Unsubscribe } from './bus';
import { log, withCorrelation } from './logger';
import type { JobPayload, JobQueue, QueueName } from './queue';
import { assertSchemaName } from './db/roles';

export type OutboxMessage = { queue: QueueName; jobName: string; payload: JobPayload; id?: string };

const KICK = 'outbox.kick';

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

type Row = { tenant_id: string; id: string; queue: QueueName; job_name: string; payload: JobPayload };

/** Moves committed outbox rows of every tenant schema onto the job queue. Runs as the relay role. */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly orm: MikroORM,
    private readonly queue: JobQueue,
    private readonly bus: EventBus,
    private readonly pollMs: number,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(KICK, () => this.kick());
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = withCorrelation('outbox-relay', {}, () => this.drain())
      .then(() => undefined)
      .catch((err: Error) => log().warn({ err: err.message }, 'outbox relay pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.pollMs);
        }
      });
  }

  /** One pass over every schema; returns how many jobs it enqueued. */
  async drain(): Promise<number> {
    const em = this.orm.em.fork();
    const schemas = (
      await em.execute<{ schema_name: string }[]>(
        `select 'pool' as schema_name union select distinct schema_name from public.tenant where schema_name <> 'pool'`,
      )
    ).map((r) => r.schema_name);
    let total = 0;
    for (const schema of schemas) {
      assertSchemaName(schema);
      for (;;) {
        const n = await em.fork().transactional(async (tx) => {
          const rows = await tx.execute<Row[]>(
            `select tenant_id, id, queue, job_name, payload from "${schema}".outbox
             where published_at is null order by created_at limit 200 for update skip locked`,
          );
          for (const r of rows) {
            await this.queue.add(r.queue, r.job_name, { ...r.payload, tenantId: r.tenant_id }, { jobId: r.id });
          }
          if (rows.length > 0) {
            await tx.execute(`update "${schema}".outbox set published_at = now() where id = any(?::uuid[])`, [
              `{${rows.map((r) => r.id).join(',')}}`,
            ]);
          }
          return rows.length;
        });
        total += n;
        if (n < 200) break;
      }
    }
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.unsubscribe?.();
    await this.running;
  }
}
