import type { MikroORM } from '@mikro-orm/postgresql';
import { databaseCheck } from '../lib/db/orm';
import { createHttpApp, listen, type Listening } from '../lib/http';
import { log } from '../lib/logger';
import { jobsProcessed } from '../lib/metrics';
import type { ModuleBackground, ModuleDeps, ModuleJobs, PlatformModule } from '../lib/module';
import { OutboxRelay } from '../lib/outbox';
import type { JobHandler, QueueName } from '../lib/queue';

export type WorkersOptions = {
  host: string;
  port: number;
  /** What every module's jobs get: the app-role ORM (with every module's entities), bus, queue, ports. */
  deps: ModuleDeps;
  /** The modules whose queue processors and background work this process hosts. */
  modules: readonly PlatformModule[];
  /** Relay-role ORM: reads every tenant's outbox. */
  relayOrm: MikroORM;
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

export type Workers = Listening & { relay: OutboxRelay; background: readonly ModuleBackground[] };

/**
 * The workers role hosts jobs, it owns no domain logic: the outbox relay, then each module's queue
 * processors and background work (schedulers, sweepers, key maintenance), stopped newest first.
 */
export async function startWorkers(opts: WorkersOptions): Promise<Workers> {
  const jobs: ModuleJobs[] = [];
  for (const m of opts.modules) if (m.jobs) jobs.push(await m.jobs(opts.deps));
  for (const { queue, handler, concurrency } of jobs.flatMap((j) => j.processors)) opts.deps.queue.process(queue, counted(queue, handler), { concurrency });
  const background = jobs.flatMap((j) => j.background);
  const started: ModuleBackground[] = [];
  const stopBackground = async (): Promise<void> => {
    for (let b = started.pop(); b; b = started.pop()) {
      await b.stop().catch((err: Error) => log().warn({ job: b?.name, err: err.message }, 'error while stopping'));
    }
  };
  try {
    for (const b of background) {
      await b.start();
      started.push(b);
    }
  } catch (err) {
    await stopBackground();
    throw err;
  }

  const relay = new OutboxRelay(opts.relayOrm, opts.deps.queue, opts.deps.bus, opts.outboxPollMs);
  await relay.start();
  const app = createHttpApp('workers', [databaseCheck(opts.deps.orm), databaseCheck(opts.relayOrm, 'outbox')]);
  const listening = await listen(app, opts.host, opts.port);
  log().info({ url: listening.url, queue: opts.deps.queue.kind, background: background.map((b) => b.name) }, 'workers running');
  return {
    ...listening,
    relay,
    background,
    close: async () => {
      await stopBackground();
      await relay.stop();
      await listening.close();
    },
  };
}
