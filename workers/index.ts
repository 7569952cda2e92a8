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
import { TenantTransactions } from '../lib/db/tenant-tx';
import { PurchaseExecutor } from '../subgraphs/treasury/purchases/purchase-executor';
import { RuleEngine } from '../subgraphs/treasury/rules/rule-engine';
import type { PricePort } from '../subgraphs/treasury/schedules/price.port';
import { auditProcessor } from '../subgraphs/compliance/jobs/audit.processor';
import type { KeyMaintenance } from './keys-reseal';
import { LatestPrice } from '../subgraphs/treasury/jobs/market-prices';
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
  /** market-price's port (candle averages) for PRICE_DROP; without it PRICE_DROP rules wait (no average). */
  prices?: PricePort;
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
  const tenants = new TenantTransactions(opts.orm, directory, opts.bus);
  const prices = new LatestPrice(opts.bus);
  await prices.start();
  const pricePort: PricePort = opts.prices ?? { latest: () => prices.latest(), averageOverDays: () => Promise.resolve(null) };
  const paper = new PaperExchange({ priceSource: async () => (await pricePort.latest()) ?? prices.requireLatest(), ...t.paper });
  const engine = new RuleEngine({ exchangeMinCents: t.exchangeMinCents, manualMaxCents: t.manualMaxCents });
  const executor = new PurchaseExecutor({ tenants, adapters: { ...realExchanges(t, opts.orm), paper }, leaseMs: t.leaseMs, breaker: { coolDownMs: t.breakerCoolDownMs } });
  opts.queue.process('payment-events', counted('payment-events', paymentEventsProcessor(tenants, engine)), { concurrency: 4 });
  opts.queue.process('purchases', counted('purchases', purchasesProcessor(executor, DEFAULT_ATTEMPTS)), { concurrency: 4 });
  opts.queue.process('schedules', counted('schedules', schedulesProcessor(tenants, engine, pricePort)), { concurrency: 2 });
  const scheduler = new TreasuryScheduler({ orm: opts.orm, tenants, queue: opts.queue, intervalMs: t.schedulerIntervalMs, staleMs: t.staleMs });
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
