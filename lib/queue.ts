import { AsyncResource } from 'node:async_hooks';
import { Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { currentCorrelationId, log, noteRequest, withCorrelation } from './logger';
import { registerQueueDepthSource, type QueueDepth } from './metrics';
import { bullPrefix, closeRedis, connectRedis, isClusterUrl, type RedisClient } from './redis';
import { currentTraceparent, traceJob } from './tracing';

/** Queue names are contracts between processes; each has a processor (a module's `jobs`). New domains add theirs (reports, accounting, notifications) with the processor. */
export const QUEUES = ['payment-events', 'purchases', 'schedules', 'audit', 'tax', 'reports', 'accounting', 'notifications', 'aml', 'kyb', 'webhooks'] as const;
export type QueueName = (typeof QUEUES)[number];

export type JobPayload = Record<string, unknown>;
export type JobInfo = { id: string; name: string; data: JobPayload; attempt: number };
export type JobHandler = (job: JobInfo) => Promise<void>;
export type AddOptions = { jobId: string; delayMs?: number; attempts?: number };
/** One job of a batch (the outbox relay enqueues what one pass claimed in one round trip). */
export type BulkJob = { queue: QueueName; name: string; data: JobPayload; opts: AddOptions };

/** BullMQ, or an in-process runner with the same contract when there is no Redis. */
export type JobQueue = {
  readonly kind: 'bullmq' | 'in-process';
  add(queue: QueueName, name: string, data: JobPayload, opts: AddOptions): Promise<void>;
  addBulk(jobs: BulkJob[]): Promise<void>;
  process(queue: QueueName, handler: JobHandler, opts?: { concurrency?: number }): void;
  /** Resolves when nothing is waiting or running (in-process); for tests and shutdown. */
  close(): Promise<void>;
};

const BACKOFF_MS = 200;
/** At shutdown, how long jobs in flight may take to finish; past it they are left to their queue's recovery. */
export const JOB_DRAIN_MS = 5000;

/**
 * Runs one attempt of a job under the correlation id of what enqueued it (the outbox carries the
 * request's), and writes its one access-log line: queue, job, tenant, attempt, outcome, duration.
 */
export async function runJob(queue: QueueName, job: JobInfo, handler: JobHandler): Promise<void> {
  const given = typeof job.data.correlationId === 'string' ? job.data.correlationId : undefined;
  const tenantId = typeof job.data.tenantId === 'string' ? job.data.tenantId : undefined;
  return withCorrelation(given ?? `job:${queue}:${job.id}`, { queue, job: job.name, jobId: job.id }, () =>
    // The job's span: a child of the traceparent it carries (the request that wrote its outbox row, or enqueued it).
    traceJob({ queue, name: job.name, id: job.id, attempt: job.attempt, correlationId: currentCorrelationId()!, tenantId, traceparent: job.data.traceparent }, () =>
      runAttempt(job, tenantId, handler),
    ),
  );
}

/** One attempt and its access-log line: queue, job, tenant, attempt, outcome, duration. */
async function runAttempt(job: JobInfo, tenantId: string | undefined, handler: JobHandler): Promise<void> {
  if (tenantId) noteRequest({ tenantId });
  const started = performance.now();
  const durationMs = (): number => Math.round((performance.now() - started) * 10) / 10;
  try {
    await handler(job);
    log().info({ attempt: job.attempt, outcome: 'ok', durationMs: durationMs() }, 'job');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    log().info(
      { attempt: job.attempt, outcome: 'error', errorCode: typeof code === 'string' ? code : undefined, err: (err as Error).message, durationMs: durationMs() },
      'job',
    );
    throw err;
  }
}

/** A job enqueued inside a traced request or job carries its traceparent (unless it has one: the outbox relay's). */
function withTrace(data: JobPayload): JobPayload {
  if (data.traceparent !== undefined) return data;
  const traceparent = currentTraceparent();
  return traceparent ? { ...data, traceparent } : data;
}

/** Resolves when p settles or after ms, whichever comes first; true when p settled. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
export const DEFAULT_ATTEMPTS = 8;
/**
 * A killed worker's job is back in the queue within LOCK_MS + STALLED_CHECK_MS (BullMQ's defaults
 * make that up to a minute); a job that stalls more than MAX_STALLS times is failed, and the workers'
 * sweeper enqueues its work again (purchases, payment events, audit facts).
 */
const LOCK_MS = 10_000;
const STALLED_CHECK_MS = 5_000;
const MAX_STALLS = 2;

type Due = { job: JobInfo; attempts: number };

export class InProcessQueue implements JobQueue {
  readonly kind = 'in-process' as const;
  private readonly handlers = new Map<QueueName, { handler: JobHandler; concurrency: number }>();
  /** Jobs that are due but not running: no handler yet, or the queue is at its concurrency. */
  private readonly ready = new Map<QueueName, Due[]>();
  private readonly active = new Map<QueueName, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly seen = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private unregisterDepth?: () => void;
  // Jobs run in the async context of the runner, not of whoever enqueued them (their open
  // transaction, correlation id, ORM context must not leak into the job).
  private readonly detached = new AsyncResource('InProcessQueue');

  add(queue: QueueName, name: string, data: JobPayload, opts: AddOptions): Promise<void> {
    const key = `${queue}:${opts.jobId}`;
    if (this.seen.has(key) || this.closed) return Promise.resolve(); // idempotent enqueue, like BullMQ's jobId
    this.seen.add(key);
    let copy: JobPayload;
    try {
      copy = JSON.parse(JSON.stringify(withTrace(data))) as JobPayload;
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const job: JobInfo = { id: opts.jobId, name, data: copy, attempt: 0 };
    this.schedule(queue, { job, attempts: opts.attempts ?? DEFAULT_ATTEMPTS }, opts.delayMs ?? 0);
    return Promise.resolve();
  }

  async addBulk(jobs: BulkJob[]): Promise<void> {
    for (const j of jobs) await this.add(j.queue, j.name, j.data, j.opts);
  }

  private schedule(queue: QueueName, due: Due, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.enqueue(queue, due);
    }, delayMs);
    this.timers.add(t);
  }

  private enqueue(queue: QueueName, due: Due): void {
    if (this.closed) return;
    const list = this.ready.get(queue) ?? [];
    list.push(due);
    this.ready.set(queue, list);
    this.pump(queue);
  }

  private pump(queue: QueueName): void {
    const h = this.handlers.get(queue);
    const list = this.ready.get(queue);
    while (h && list && list.length > 0 && !this.closed && (this.active.get(queue) ?? 0) < h.concurrency) {
      const due = list.shift()!;
      this.active.set(queue, (this.active.get(queue) ?? 0) + 1);
      const p: Promise<void> = this.detached.runInAsyncScope(() => this.run(queue, h.handler, due)).finally(() => {
        this.running.delete(p);
        this.active.set(queue, (this.active.get(queue) ?? 1) - 1);
        this.pump(queue);
      });
      this.running.add(p);
    }
  }

  private async run(queue: QueueName, handler: JobHandler, { job, attempts }: Due): Promise<void> {
    const attempt = { ...job, attempt: job.attempt + 1 };
    try {
      await runJob(queue, attempt, handler);
    } catch (err) {
      if (attempt.attempt >= attempts) {
        log().error({ queue, jobId: job.id, err: (err as Error).message }, 'job failed permanently');
        return;
      }
      if (!this.closed) this.schedule(queue, { job: attempt, attempts }, BACKOFF_MS * 2 ** (attempt.attempt - 1));
    }
  }

  process(queue: QueueName, handler: JobHandler, opts: { concurrency?: number } = {}): void {
    this.handlers.set(queue, { handler, concurrency: Math.max(1, opts.concurrency ?? 4) });
    this.unregisterDepth ??= registerQueueDepthSource(() => Promise.resolve(this.depth()));
    this.pump(queue);
  }

  /** Jobs due and running per consumed queue (delayed ones wait in timers, uncounted by queue). */
  private depth(): QueueDepth[] {
    return [...this.handlers.keys()].flatMap((queue) => [
      { queue, state: 'waiting' as const, count: this.ready.get(queue)?.length ?? 0 },
      { queue, state: 'active' as const, count: this.active.get(queue) ?? 0 },
    ]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unregisterDepth?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // A job still running after JOB_DRAIN_MS is abandoned: the workers' scheduler re-enqueues lost work.
    if (!(await within(Promise.allSettled([...this.running]), JOB_DRAIN_MS))) log().warn({ running: this.running.size }, 'jobs still running at shutdown were left');
  }
}

export class BullQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  private readonly connection?: ConnectionOptions;
  private readonly consumed = new Set<QueueName>();
  /** Redis Cluster clients this queue made for BullMQ (it does not close a client it was given). */
  private readonly owned: RedisClient[] = [];
  private unregisterDepth?: () => void;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {
    if (isClusterUrl(redisUrl)) return; // one ioredis Cluster client per Queue and Worker, made in clientFor()
    const u = new URL(redisUrl);
    this.connection = {
      host: u.hostname,
      port: Number(u.port || 6379),
      username: u.username || undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
      maxRetriesPerRequest: null,
    };
  }

  /** The connection for one Queue or Worker: the single node's options, or a Cluster client of its own. */
  private clientFor(): ConnectionOptions {
    if (this.connection) return this.connection;
    const cluster = connectRedis(this.redisUrl, { maxRetriesPerRequest: null });
    cluster.on('error', (err: Error) => log().warn({ err: err.message }, 'queue redis error'));
    this.owned.push(cluster);
    return cluster;
  }

  private queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.clientFor(), prefix: bullPrefix(this.redisUrl, this.prefix, name) });
      q.on('error', (err: Error) => log().warn({ queue: name, err: err.message }, 'queue error'));
      this.queues.set(name, q);
    }
    return q;
  }

  async add(queue: QueueName, name: string, data: JobPayload, opts: AddOptions): Promise<void> {
    await this.queue(queue).add(name, withTrace(data), this.jobOptions(opts));
  }

  /** One round trip to Redis per queue (BullMQ's addBulk is atomic per queue). */
  async addBulk(jobs: BulkJob[]): Promise<void> {
    const byQueue = new Map<QueueName, BulkJob[]>();
    for (const j of jobs) byQueue.set(j.queue, [...(byQueue.get(j.queue) ?? []), j]);
    await Promise.all(
      [...byQueue].map(([q, list]) => this.queue(q).addBulk(list.map((j) => ({ name: j.name, data: withTrace(j.data), opts: this.jobOptions(j.opts) })))),
    );
  }

  private jobOptions(opts: AddOptions): JobsOptions {
    return {
      jobId: opts.jobId,
      delay: opts.delayMs,
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: BACKOFF_MS },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  process(queue: QueueName, handler: JobHandler, opts: { concurrency?: number } = {}): void {
    const worker = new Worker(
      queue,
      async (job: Job) => runJob(queue, { id: String(job.id), name: job.name, data: job.data as JobPayload, attempt: job.attemptsMade + 1 }, handler),
      {
        connection: this.clientFor(),
        prefix: bullPrefix(this.redisUrl, this.prefix, queue),
        concurrency: opts.concurrency ?? 4,
        lockDuration: LOCK_MS,
        stalledInterval: STALLED_CHECK_MS,
        maxStalledCount: MAX_STALLS,
      },
    );
    worker.on('error', (err: Error) => log().warn({ queue, err: err.message }, 'worker error'));
    this.workers.push(worker);
    this.consumed.add(queue);
    this.unregisterDepth ??= registerQueueDepthSource(() => this.depth());
  }

  /** Job counts of the queues this process consumes, from Redis (one call per queue, at scrape time). */
  private async depth(): Promise<QueueDepth[]> {
    const states = ['waiting', 'active', 'delayed', 'failed'] as const;
    const counts = await Promise.all([...this.consumed].map(async (queue) => ({ queue, c: await this.queue(queue).getJobCounts(...states) })));
    return counts.flatMap(({ queue, c }) => states.map((state) => ({ queue, state, count: c[state] ?? 0 })));
  }

  async close(): Promise<void> {
    this.unregisterDepth?.();
    // Active jobs finish; past JOB_DRAIN_MS the workers stop anyway and BullMQ hands those jobs out again as stalled.
    const graceful = Promise.allSettled(this.workers.map((w) => w.close()));
    if (!(await within(graceful, JOB_DRAIN_MS))) await Promise.allSettled(this.workers.map((w) => w.close(true)));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    await Promise.allSettled(this.owned.map((c) => closeRedis(c)));
  }
}

export function createQueue(redisUrl: string | undefined, prefix: string): JobQueue {
  return redisUrl ? new BullQueue(redisUrl, prefix) : new InProcessQueue();
}
