import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadPublicMigrations } from '../../lib/db/public-migrations';
import type { ModuleBackground, ModuleDeps, PlatformModule } from '../../lib/module';
import { DEFAULT_ATTEMPTS, type JobHandler } from '../../lib/queue';
import { TENANT_PROFILE_JOB } from '../tenant/identity/tenant-profile';
import type { ExchangeAdapter, ExchangeName } from './exchanges/exchange.types';
import { KrakenClient } from './exchanges/kraken.client';
import { PaperExchange } from './exchanges/paper.exchange';
import { PgOrderIdStore } from './exchanges/pg-order-id-store';
import { SwyftxClient } from './exchanges/swyftx.client';
import { ZerocapClient } from './exchanges/zerocap.client';
import { buildTreasurySchema, treasuryEntities } from './index';
import { MarketPrices } from './jobs/market-prices';
import { paymentEventsProcessor } from './jobs/payment-events.processor';
import { purchasesProcessor } from './jobs/purchases.processor';
import { TreasuryScheduler, schedulesProcessor } from './jobs/scheduler';
import { treasuryTenantMigrations } from './migrations/tenant';
import { PurchaseExecutor } from './purchases/purchase-executor';
import { PurchaseService } from './purchases/purchase.service';
import { TreasuryEngine, type PriceReference } from './purchases/treasury-engine';
import type { TreasuryServices } from './treasury-rule.resolver';
import { TreasuryRuleService } from './treasury-rule.service';

/** The real exchanges that have credentials configured; paper is always there. */
function realExchanges(t: ModuleDeps['config']['treasury'], orm: MikroORM): Partial<Record<ExchangeName, ExchangeAdapter>> {
  const adapters: Partial<Record<ExchangeName, ExchangeAdapter>> = {};
  if (t.kraken) adapters.kraken = new KrakenClient(t.kraken);
  // Swyftx cannot find an order by our id: it needs the durable clientOrderId → order id map.
  if (t.swyftx) adapters.swyftx = new SwyftxClient({ ...t.swyftx, orderIds: new PgOrderIdStore(orm) });
  if (t.zerocap) adapters.zerocap = new ZerocapClient(t.zerocap);
  return adapters;
}

/**
 * tenant announces timezones with `tenant.profile` jobs on `schedules`; until the schedules processor
 * consumes them, one it does not know yet is acknowledged instead of retried. Inert once it does.
 */
const untilProfileConsumed =
  (handler: JobHandler): JobHandler =>
  async (job) => {
    try {
      await handler(job);
    } catch (err) {
      if (job.name === TENANT_PROFILE_JOB && (err as Error).message === `unknown schedules job ${TENANT_PROFILE_JOB}`) return;
      throw err;
    }
  };

const engineOf = (t: ModuleDeps['config']['treasury']): TreasuryEngine =>
  new TreasuryEngine({ exchangeMinCents: t.exchangeMinCents, manualMaxCents: t.manualMaxCents });

/** treasury: rules, the accrual ledger, purchases and their execution on exchanges, schedules. */
export const treasuryModule: PlatformModule<TreasuryServices> = {
  name: 'treasury',
  entities: treasuryEntities,
  tables: {
    tenant: [
      'treasury_rule',
      'purchase',
      'purchase_transition',
      'exchange_attempt',
      'accrual_entry',
      'holding',
      'purchase_idempotency',
      'treasury_settings',
      'rule_accrual',
      'payment_accrual',
    ],
    public: ['exchange_order_link'],
    shared: [
      {
        module: 'tenant',
        table: 'payment_event',
        access: 'write',
        why: 'exactly-once: a payment event is locked, applied to the ledger and marked PROCESSED/SKIPPED in one transaction (tenant/payment-events.ts lockPaymentEvent/settlePaymentEvent); the sweeper re-enqueues RECEIVED ones',
      },
      {
        module: 'market-price',
        table: 'price_tick',
        access: 'read',
        why: "jobs/market-prices.ts, the fallback when market-price's prices port is not given: the newest tick and N-day averages",
      },
      {
        module: 'tenant',
        table: 'tenant',
        access: 'read',
        why: "the tenant's timezone for daily caps, schedules and the cut-off; to be replaced by treasury_settings.timezone kept from the tenant.profile job (issue 9)",
      },
    ],
  },
  publicMigrations: () => loadPublicMigrations(join(__dirname, 'migrations', 'public')),
  tenantMigrations: treasuryTenantMigrations,
  buildSchema: buildTreasurySchema,
  createServices({ bus, config }) {
    return { rules: new TreasuryRuleService(bus), purchases: new PurchaseService(engineOf(config.treasury), bus) };
  },
  jobs({ orm, bus, queue, tenants, config, ports }) {
    const t = config.treasury;
    const directory = tenants.directory;
    const background: ModuleBackground[] = [];
    // market-price's port when it runs in this process; otherwise the bus and the stored ticks.
    let prices: PriceReference | undefined = ports.prices;
    if (!prices) {
      const fallback = new MarketPrices(bus, orm);
      background.push({ name: 'market-prices', start: () => fallback.start(), stop: () => fallback.stop() });
      prices = fallback;
    }
    const reference = prices;
    const paper = new PaperExchange({
      priceSource: async () => {
        const p = await reference.latest();
        if (p === null) throw new Error('no fresh BTC/AUD price');
        return p;
      },
      ...t.paper,
    });
    const engine = engineOf(t);
    const executor = new PurchaseExecutor({ orm, directory, bus, adapters: { ...realExchanges(t, orm), paper }, leaseMs: t.leaseMs, breaker: { coolDownMs: t.breakerCoolDownMs } });
    const scheduler = new TreasuryScheduler({ orm, directory, queue, intervalMs: t.schedulerIntervalMs, staleMs: t.staleMs });
    background.push({ name: 'treasury-scheduler', start: () => scheduler.start(), stop: () => scheduler.stop() });
    return {
      processors: [
        { queue: 'payment-events', handler: paymentEventsProcessor(orm, directory, engine, bus), concurrency: 4 },
        { queue: 'purchases', handler: purchasesProcessor(executor, DEFAULT_ATTEMPTS), concurrency: 4 },
        { queue: 'schedules', handler: untilProfileConsumed(schedulesProcessor(orm, directory, engine, bus, reference)), concurrency: 2 },
      ],
      background,
    };
  },
};
