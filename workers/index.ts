import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../lib/bus';
import { databaseCheck } from '../lib/db/orm';
import { TenantDirectory } from '../lib/db/tenant-context';
import { createHttpApp, listen, type Listening } from '../lib/http';
import { log } from '../lib/logger';
import { jobsProcessed } from '../lib/metrics';
import { OutboxRelay } from '../lib/outbox';
import type { JobHandler, JobQueue, QueueName } from '../lib/queue';
import { DEFAULT_ATTEMPTS } from '../lib/queue';
import type { Config } from '../lib/config';
import type { ExchangeAdapter, ExchangeName } from '../subgraphs/treasury/exchanges/exchange.types';
import { KrakenClient } from '../subgraphs/treasury/exchanges/kraken.client';
import { PgOrderIdStore } from '../subgraphs/treasury/exchanges/pg-order-id-store';
import { SwyftxClient } from '../subgraphs/treasury/exchanges/swyftx.client';
import { ZerocapClient } from '../subgraphs/treasury/exchanges/zerocap.client';
import { PaperExchange } from '../subgraphs/treasury/exchanges/paper.exchange';
import { PurchaseExecutor } from '../subgraphs/treasury/purchases/purchase-executor';
import { TreasuryEngine } from '../subgraphs/treasury/purchases/treasury-engine';
import { auditProcessor } from '../subgraphs/compliance/jobs/audit.processor';
import type { KeyMaintenance } from '../subgraphs/tenant/jobs/keys-reseal';
import { MarketPrices } from '../subgraphs/treasury/jobs/market-prices';
import { paymentEventsProcessor } from '../subgraphs/treasury/jobs/payment-events.processor';
import { purchasesProcessor } from '../subgraphs/treasury/jobs/purchases.processor';
import { TreasuryScheduler, schedulesProcessor } from '../subgraphs/treasury/jobs/scheduler';

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
  treasury: TreasuryWorkerOptions;
  /** The key job (re-seal under the current key; rotation of generated keys in embedded mode). */
  keys?: KeyMaintenance;
};

export type TreasuryWorkerOptions = Config['treasury'];

/** The real exchanges that have credentials configured; paper is always there. */
function realExchanges(t: TreasuryWorkerOptions, orm: MikroORM): Partial<Record<ExchangeName, ExchangeAdapter>> {
  const adapters: Partial<Record<ExchangeName, ExchangeAdapter>> = {};
  if (t.kraken) adapters.kraken = new KrakenClient(t.kraken);
  // Swyftx cannot find an order by our id: it needs the durable clientOrderId → order id map.
  if (t.swyftx) adapters.swyftx = new SwyftxClient({ ...t.swyftx, orderIds: new PgOrderIdStore(orm) });
  if (t.zerocap) adapters.zerocap = new ZerocapClient(t.zerocap);
  return adapters;
}

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

export type Workers = Listening & { relay: OutboxRelay; executor: PurchaseExecutor; paper: PaperExchange; scheduler: TreasuryScheduler; keys?: KeyMaintenance };

/** The workers role: the outbox relay plus the BullMQ processors. */
export async function startWorkers(opts: WorkersOptions): Promise<Workers> {
  const directory = new TenantDirectory(opts.orm);
  opts.queue.process('audit', counted('audit', auditProcessor(opts.orm, directory)), { concurrency: 4 });

  const t = opts.treasury;
  const prices = new MarketPrices(opts.bus, opts.orm);
  await prices.start();
  const paper = new PaperExchange({ priceSource: () => prices.requireLatest(), ...t.paper });
  const engine = new TreasuryEngine({ exchangeMinCents: t.exchangeMinCents, manualMaxCents: t.manualMaxCents });
  const executor = new PurchaseExecutor({ orm: opts.orm, directory, bus: opts.bus, adapters: { ...realExchanges(t, opts.orm), paper }, leaseMs: t.leaseMs, breaker: { coolDownMs: t.breakerCoolDownMs } });
  opts.queue.process('payment-events', counted('payment-events', paymentEventsProcessor(opts.orm, directory, engine, opts.bus)), { concurrency: 4 });
  opts.queue.process('purchases', counted('purchases', purchasesProcessor(executor, DEFAULT_ATTEMPTS)), { concurrency: 4 });
  opts.queue.process('schedules', counted('schedules', schedulesProcessor(opts.orm, directory, engine, opts.bus, prices)), { concurrency: 2 });
  const scheduler = new TreasuryScheduler({ orm: opts.orm, directory, queue: opts.queue, intervalMs: t.schedulerIntervalMs, staleMs: t.staleMs });
  scheduler.start();
  opts.keys?.start();

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
    executor,
    paper,
    scheduler,
    keys: opts.keys,
    close: async () => {
      await opts.keys?.stop();
      await scheduler.stop();
      await prices.stop();
      await relay.stop();
      await listening.close();
    },
  };
}
