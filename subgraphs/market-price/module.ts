import { join } from 'node:path';
import { loadPublicMigrations } from '../../lib/db/public-migrations';
import type { PlatformModule } from '../../lib/module';
import { createPriceFeeds, parsePriceFeedList } from './feeds';
import { buildMarketPriceSchema, marketPriceEntities } from './index';
import { candlePrices } from './prices.port';
import type { MarketPriceServices } from './price.resolver';
import { PriceService } from './price.service';
import { tickPartitionTask } from './tick-partitions';

/** market-price: the aggregated BTC price feed, its ticks and candles, and the value of a purchase. */
export const marketPriceModule: PlatformModule<MarketPriceServices> = {
  name: 'market-price',
  entities: marketPriceEntities,
  tables: {
    tenant: [],
    public: ['price_tick', 'price_candle'],
    shared: [
      {
        module: 'treasury',
        table: 'purchase',
        access: 'read',
        why: "BitcoinPurchase.__resolveReference: the gate checks, under row-level security, that the purchase is the caller's before valuing it (lib/access.ts REFERENCE_TABLES)",
      },
    ],
  },
  publicMigrations: () => loadPublicMigrations(join(__dirname, 'migrations', 'public')),
  tenantMigrations: [],
  buildSchema: buildMarketPriceSchema,
  async createServices({ orm, bus, config }) {
    const m = config.market;
    const prices = new PriceService(orm, bus, {
      publishIntervalMs: m.publishIntervalMs,
      staleAfterMs: m.staleAfterMs,
      maxDeviationBps: m.maxDeviationBps,
      minSources: m.minSources,
      candleFlushMs: m.candleFlushMs,
    });
    await prices.start(
      createPriceFeeds({
        feeds: parsePriceFeedList(m.feeds),
        simulated: { seed: config.priceSeed, intervalMs: config.priceTickMs },
        kraken: { wsUrl: m.krakenWsUrl, restBaseUrl: m.krakenRestUrl },
        independentReserve: { baseUrl: m.independentReserveUrl, pollMs: m.pollMs },
        btcMarkets: { baseUrl: m.btcMarketsUrl, pollMs: m.pollMs },
      }),
    );
    return { prices };
  },
  closeServices: ({ prices }) => prices.stop(),
  providePorts: ({ orm }) => ({ prices: candlePrices(orm) }),
  jobs: ({ orm, config }) => {
    // #15: raw ticks' day partitions made ahead and dropped past PRICE_TICK_RETENTION_DAYS (candles stay).
    const partitions = tickPartitionTask(orm, config.market.tickPartitions);
    return { processors: [], background: [{ name: 'price-tick-partitions', start: () => partitions.start(), stop: () => partitions.stop() }] };
  },
};
