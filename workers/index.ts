import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../lib/bus';
import { databaseCheck } from '../lib/db/orm';
import { TenantDirectory } from '../lib/db/tenant-context';
import { createHttpApp, listen, type Listening } from '../lib/http';
import { log } from '../lib/logger';
import { jobsProcessed } from '../lib/metrics';
import { OutboxRelay } from '../lib/outbox';
import type { JobHandler, JobQueue, QueueName } from '../lib/queue';
import { auditProcessor } from './audit.processor';

export type WorkersOptions = {
  host: string;
  port: number;
  /** App-role ORM with the entities the processors touch. */
  orm: MikroORM;
  /** Relay-role ORM: reads every tenant's outbox. */
  relayOrm: MikroORM;
  queue: JobQueue;
  bus: EventBus;
  outboxPollMs: number;
};

const counted =
  (queue: QueueName, handler: JobHandler): JobHandler =>
  async (job) => {
    try {
      await handler(job);
      jobsProcessed.inc({ queue, outcome: 'ok' });
    } catch (err) {
      jobsProcessed.inc({ queue, outcome: 'error' });
      log().warn({ queue, jobId: job.id, attempt: job.attempt, err: (err as Error).message }, 'job failed');
      throw err;
    }
  };

export type Workers = Listening & { relay: OutboxRelay };

/** The workers role: the outbox relay plus the BullMQ processors. */
export async function startWorkers(opts: WorkersOptions): Promise<Workers> {
  const directory = new TenantDirectory(opts.orm);
  opts.queue.process('audit', counted('audit', auditProcessor(opts.orm, directory)), { concurrency: 4 });
  const relay = new OutboxRelay(opts.relayOrm, opts.queue, opts.bus, opts.outboxPollMs);
  await relay.start();
  const app = createHttpApp('workers', [
    databaseCheck(opts.orm),
    databaseCheck(opts.relayOrm, 'outbox'),
  ]);
  const listening = await listen(app, opts.host, opts.port);
  log().info({ url: listening.url, queue: opts.queue.kind }, 'workers running');
  return {
    ...listening,
    relay,
    close: async () => {
      await relay.stop();
      await listening.close();
    },
  };
}
