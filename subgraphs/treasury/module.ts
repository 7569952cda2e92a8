import { SaleExecutor } from './sales/sale-executor';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadPublicMigrations } from '../../lib/db/public-migrations';
import type { ModuleBackground, ModuleDeps, PlatformModule } from '../../lib/module';
import { DEFAULT_ATTEMPTS } from '../../lib/queue';
import type { ExchangeAdapter, ExchangeName } from './exchanges/exchange.types';
import { KrakenClient } from './exchanges/kraken.client';
import { PaperExchange } from './exchanges/paper.exchange';
import { PgOrderIdStore } from './exchanges/pg-order-id-store';
import { SwyftxClient } from './exchanges/swyftx.client';
import { ZerocapClient } from './exchanges/zerocap.client';
import {
  LatestPrice,
  PurchaseExecutor,
  PurchaseService,
  RuleEngine,
  TreasuryRuleService,
  TreasuryScheduler,
  buildTreasurySchema,
  paymentEventsProcessor,
  purchasesProcessor,
  schedulesProcessor,
  treasuryEntities,
  type PricePort,
  type TreasuryServices,
} from './index';
import { treasuryTenantMigrations } from './migrations/tenant';
import { KYB_GATE_TABLES, kybGateMigrations, kybStatusProcessor } from './kyb/kyb-gate';
import {
  WITHDRAWAL_TENANT_TABLES,
  WithdrawalScheduler,
  WithdrawalService,
  purchasesQueueHandler,
  taxTransferOnConfirmed,
  withdrawalExecutor,
  withdrawalRails,
  withdrawalTenantMigrations,
} from './withdrawals/wiring';

/** The real exchanges that have credentials configured; paper is always there. */
function realExchanges(t: ModuleDeps['config']['treasury'], orm: MikroORM): Partial<Record<ExchangeName, ExchangeAdapter>> {
  const adapters: Partial<Record<ExchangeName, ExchangeAdapter>> = {};
  if (t.kraken) adapters.kraken = new KrakenClient(t.kraken);
  // Swyftx cannot find an order by our id: it needs the durable clientOrderId → order id map.
  if (t.swyftx) adapters.swyftx = new SwyftxClient({ ...t.swyftx, orderIds: new PgOrderIdStore(orm) });
  if (t.zerocap) adapters.zerocap = new ZerocapClient(t.zerocap);
  return adapters;
}

const engineOf = (t: ModuleDeps['config']['treasury']): RuleEngine =>
  new RuleEngine({ exchangeMinCents: t.exchangeMinCents, manualMaxCents: t.manualMaxCents });

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
      ...WITHDRAWAL_TENANT_TABLES,
      // sales (#10)
      'sale',
      'sale_transition',
      'sale_idempotency',
      // the KYB trading gate (#11): treasury's own copy of the tenant's verification status
      ...KYB_GATE_TABLES,
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
        module: 'tenant',
        table: 'tenant',
        access: 'read',
        why: "the scheduler lists the ids of tenants to visit (the platform's one tenant list); the timezone is treasury's own, kept from the tenant.profile job",
      },
    ],
  },
  publicMigrations: () => loadPublicMigrations(join(__dirname, 'migrations', 'public')),
  tenantMigrations: [...treasuryTenantMigrations, ...withdrawalTenantMigrations, ...kybGateMigrations],
  buildSchema: buildTreasurySchema,
  createServices({ config, ports }) {
    // The AML fact of a withdrawal (#11) carries its AUD value at market-price's latest price when that port is here.
    const prices = ports.prices;
    return {
      rules: new TreasuryRuleService(),
      purchases: new PurchaseService(engineOf(config.treasury)),
      withdrawals: new WithdrawalService(prices ? { latestPrice: () => prices.latest() } : {}),
    };
  },
  jobs({ orm, bus, queue, tenants, config, ports }) {
    const t = config.treasury;
    // The latest price from the bus (the paper exchange fills at it); market-price's port when it runs here.
    const live = new LatestPrice(bus);
    const prices: PricePort = ports.prices ?? { latest: () => live.latest(), averageOverDays: () => Promise.resolve(null) };
    const paper = new PaperExchange({ priceSource: async () => (await prices.latest()) ?? live.requireLatest(), ...t.paper });
    const engine = engineOf(t);
    const adapters = { ...realExchanges(t, orm), paper };
    const executor = new PurchaseExecutor({ tenants, adapters, leaseMs: t.leaseMs, breaker: { coolDownMs: t.breakerCoolDownMs } });
    // Sales (#10) run on the same exchanges and queue.
    const sales = new SaleExecutor({ tenants, adapters, leaseMs: t.leaseMs, breaker: { coolDownMs: t.breakerCoolDownMs } });
    const scheduler = new TreasuryScheduler({ orm, tenants, queue, intervalMs: t.schedulerIntervalMs, staleMs: t.staleMs });
    // Withdrawals (#13): the sweeper and auto-withdraw schedule; the tax transfer fact on CONFIRMED.
    const withdrawalScheduler = new WithdrawalScheduler({ orm, tenants, queue, intervalMs: t.schedulerIntervalMs, staleMs: t.staleMs });
    const withdrawals = withdrawalExecutor(tenants, withdrawalRails(t), taxTransferOnConfirmed(() => prices.latest()));
    const background: ModuleBackground[] = [
      { name: 'latest-price', start: () => live.start(), stop: () => live.stop() },
      { name: 'treasury-scheduler', start: () => scheduler.start(), stop: () => scheduler.stop() },
      { name: 'withdrawal-scheduler', start: () => withdrawalScheduler.start(), stop: () => withdrawalScheduler.stop() },
    ];
    return {
      processors: [
        { queue: 'payment-events', handler: paymentEventsProcessor(tenants, engine), concurrency: 4 },
        // Sale jobs (#10) and withdrawal jobs (#13) share the purchases queue.
        { queue: 'purchases', handler: purchasesQueueHandler(purchasesProcessor(executor, DEFAULT_ATTEMPTS, sales), withdrawals, { tenants, service: new WithdrawalService({ latestPrice: () => prices.latest() }) }), concurrency: 4 },
        { queue: 'schedules', handler: schedulesProcessor(tenants, engine, prices), concurrency: 2 },
        // KYB status facts from compliance (#11) into the trading gate's own table.
        { queue: 'kyb', handler: kybStatusProcessor(tenants), concurrency: 2 },
      ],
      background,
    };
  },
};
