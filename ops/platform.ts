import { readFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import { AccessGate } from '../lib/access';
import { createBus, type EventBus } from '../lib/bus';
import type { JwtKeys } from '../lib/auth/tokens';
import type { Config, SubgraphName } from '../lib/config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../lib/db/embedded';
import { migrate, openOwnerOrm } from '../lib/db/migrate';
import { publicMigrations } from '../schema/migrations/public';
import { tenantMigrations } from '../schema/migrations/tenant';
import { databaseCheck, openAppOrm } from '../lib/db/orm';
import { APP_ROLE, RELAY_ROLE, assertSchemaName, roleUrl } from '../lib/db/roles';
import { TenantDirectory, followTenantMoves } from '../lib/db/tenant-context';
import type { Listening, ReadinessCheck } from '../lib/http';
import { log, redactUrl } from '../lib/logger';
import { createQueue, type JobQueue } from '../lib/queue';
import { loadOrCreateLocalSecrets, localIntegrationKeyRing, localJwtKeyRing, rotateLocalKeys, type LocalSecrets } from '../lib/secrets';
import { serveSubgraph, type SubgraphServerOptions } from '../lib/subgraph';
import { keyRingFromEnv, type KeyRing } from '../lib/crypto/secret-box';
import { gatewaySecretsFromEnv } from '../lib/auth/gateway-signature';
import { jwtKeyRing, jwtKeyRingFromEnv, type JwtKeyRing } from '../lib/auth/tokens';
import { LoginThrottle } from '../subgraphs/tenant/login-throttle';
import { MfaService } from '../subgraphs/tenant/mfa.service';
import { KeyMaintenance } from '../subgraphs/tenant/jobs/keys-reseal';
import { IntegrationService } from '../subgraphs/tenant/integration.service';
import { webhookRouter } from '../subgraphs/tenant/webhook.router';
import { startGateway } from '../gateway/gateway';
import { SUPERGRAPH_PATH } from '../schema/compose';
import { buildComplianceSchema, complianceEntities } from '../subgraphs/compliance';
import { createPriceFeeds, parsePriceFeedList } from '../subgraphs/market-price/feeds';
import { buildMarketPriceSchema, marketPriceEntities } from '../subgraphs/market-price';
import { PriceService } from '../subgraphs/market-price/price.service';
import { AuthService } from '../subgraphs/tenant/auth.service';
import { buildTenantSchema, tenantEntities } from '../subgraphs/tenant';
import { buildTreasurySchema, treasuryEntities } from '../subgraphs/treasury';
import { TreasuryRuleService } from '../subgraphs/treasury/treasury-rule.service';
import { PurchaseService } from '../subgraphs/treasury/purchases/purchase.service';
import { TreasuryEngine } from '../subgraphs/treasury/purchases/treasury-engine';
import { startWorkers } from '../workers';

export const ROLES = ['tenant', 'treasury', 'market-price', 'compliance', 'workers', 'gateway'] as const;
export type ProcessRole = (typeof ROLES)[number];

export type Platform = {
  urls: Partial<Record<ProcessRole, string>>;
  gatewayUrl?: string;
  ownerUrl: string;
  appUrl: string;
  /** The JWT key ring every role signs and verifies with (tests sign tokens with it). */
  jwtSecret: JwtKeys;
  bus: EventBus;
  queue: JobQueue;
  services: { prices?: PriceService; auth?: AuthService; integrations?: IntegrationService; keys?: PlatformKeys; keyJob?: KeyMaintenance };
  /** Stops every role, newest first: the gateway, the subgraphs and workers, in-flight jobs, pools, the database. */
  stop(): Promise<void>;
  /** What stop() is waiting for right now (named in the shutdown deadline's log line). */
  stopStep(): string | undefined;
};

/** `migrate`: always (npm start: also (re)sets the roles' password), `if-needed` (a role alone), or not at all (tests). */
export type StartOptions = { roles: readonly ProcessRole[]; migrate: boolean | 'if-needed' };

/**
 * Whether every public and tenant migration is applied (pool and every dedicated schema) and the
 * app roles exist: then a role starting alone skips the migrator (seconds on a busy machine).
 */
async function upToDate(ownerUrl: string): Promise<boolean> {
  const orm = await openOwnerOrm(ownerUrl);
  try {
    const [row] = await orm.em.getConnection().execute<{ ok: boolean }[]>(
      `select (select count(*) from mikro_orm_migrations where name = any(?)) = ?
          and (select count(*) from pg_roles where rolname in (?, ?)) = 2
          and not exists (
            select 1 from (select 'pool' as s union select distinct schema_name from public.tenant) schemas
            where (select count(*) from pg_catalog.pg_namespace n where n.nspname = schemas.s) = 0) as ok`,
      [publicMigrations().map((m) => m.name), publicMigrations().length, APP_ROLE, RELAY_ROLE],
    );
    if (!row?.ok) return false;
    const schemas = await orm.em.getConnection().execute<{ s: string }[]>(`select 'pool' as s union select distinct schema_name from public.tenant`);
    for (const { s } of schemas) {
      assertSchemaName(s);
      const [{ n }] = await orm.em
        .getConnection()
        .execute<{ n: number }[]>(`select count(*)::int as n from "${s}".schema_migrations where name = any(?)`, [tenantMigrations.map((m) => m.name)]);
      if (n !== tenantMigrations.length) return false;
    }
    return true;
  } catch {
    return false; // a fresh database: no migrations table yet
  } finally {
    await orm.close(true);
  }
}

/** The rings every role of this process shares (mutated in place when generated keys rotate). */
export type PlatformKeys = {
  jwt: JwtKeyRing;
  sealing: KeyRing;
  gatewaySecrets: string[];
  /** Embedded mode with every role in this process: rotates generated keys that are due; returns which. */
  rotate?: () => string[];
};

const DAY_MS = 86_400_000;

/**
 * Keys from the environment in deployment (JWT_KEYS or JWT_SECRET, INTEGRATION_KEYS, GATEWAY_SECRET,
 * supplied and rotated by the operator); otherwise from DATA_DIR/secrets.json, where generated keys
 * older than KEY_ROTATION_DAYS are replaced automatically when every role runs in this process
 * (the one process that holds every ring, so all of them move together).
 */
export function platformKeys(config: Config, local: LocalSecrets, roles: readonly ProcessRole[]): PlatformKeys {
  const embedded = { jwt: !config.jwtKeys && !config.jwtSecret, integration: !config.integrationKeys };
  const fromFile = (s: LocalSecrets): { jwt: JwtKeyRing; sealing: KeyRing } => ({
    jwt: config.jwtKeys ? jwtKeyRingFromEnv(config.jwtKeys, config.jwtSecret) : config.jwtSecret ? jwtKeyRing(config.jwtSecret) : localJwtKeyRing(s),
    sealing: config.integrationKeys ? keyRingFromEnv(config.integrationKeys) : localIntegrationKeyRing(s),
  });
  const allInOne = ROLES.every((r) => roles.includes(r));
  const rotating = allInOne && (embedded.jwt || embedded.integration);
  const rings = fromFile(rotating ? rotateLocalKeys(config.dataDir, config.keys.rotationDays * DAY_MS, embedded).secrets : local);
  const gatewaySecrets = config.gatewaySecret ? gatewaySecretsFromEnv(config.gatewaySecret) : [local.gatewaySecret];
  if (config.env === 'production' && !config.gatewaySecret && !allInOne) {
    log().warn('NODE_ENV=production without GATEWAY_SECRET: the gateway and the subgraphs must share DATA_DIR/secrets.json, or set GATEWAY_SECRET on every role');
  }
  const rotate = rotating
    ? (): string[] => {
        const r = rotateLocalKeys(config.dataDir, config.keys.rotationDays * DAY_MS, embedded);
        const fresh = fromFile(r.secrets);
        replaceRing(rings.jwt, fresh.jwt);
        replaceRing(rings.sealing, fresh.sealing);
        return r.rotated;
      }
    : undefined;
  return { ...rings, gatewaySecrets, rotate };
}

/** Every holder keeps the same ring object: a rotation changes it in place (new keys first, then the current id). */
function replaceRing<K>(target: { current: string; keys: Record<string, K> }, next: { current: string; keys: Record<string, K> }): void {
  Object.assign(target.keys, next.keys);
  target.current = next.current;
}

/**
 * Starts the requested roles in this process. With no DATABASE_URL an embedded PostgreSQL is
 * started under DATA_DIR; with no REDIS_URL the bus and queue are in-process (single-node mode).
 */
export async function startPlatform(config: Config, opts: StartOptions): Promise<Platform> {
  const stack: Array<{ step: string; run: () => Promise<void> }> = [];
  const push = (step: string, run: () => Promise<void>): void => void stack.push({ step, run });
  let current: string | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (let s = stack.pop(); s; s = stack.pop()) {
        current = s.step;
        log().debug({ step: s.step }, 'stopping');
        await s.run().catch((err: Error) => log().warn({ step: s.step, err: err.message }, 'error while stopping'));
      }
      current = undefined;
    })());
  try {
    const local = loadOrCreateLocalSecrets(config.dataDir);
    const keys = platformKeys(config, local, opts.roles);
    const jwtSecret = keys.jwt;
    const rolePassword = config.appDbPassword ?? local.appDbPassword;

    let ownerUrl = config.databaseUrl;
    if (!ownerUrl) {
      const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        password: local.embeddedPgPassword,
        port: config.embeddedPg.port,
        runtimeDir: config.embeddedPg.runtimeDir,
      });
      push('embedded PostgreSQL', embedded.stop);
      ownerUrl = embedded.url;
    }
    log().info({ database: redactUrl(ownerUrl), embedded: !config.databaseUrl }, 'database');
    if (opts.migrate === true || (opts.migrate === 'if-needed' && !(await upToDate(ownerUrl)))) await migrate(ownerUrl, rolePassword);
    const appUrl = roleUrl(ownerUrl, APP_ROLE, rolePassword);

    if (!config.redisUrl) log().info('no REDIS_URL: single-node mode (in-process event bus and job runner)');
    const bus = createBus(config.redisUrl, config.redisPrefix);
    push('event bus', () => bus.close());
    // A tenant moved by `npm run tenant:isolate` / `tenant:pool`: every directory here forgets its schema.
    push('tenant moves', await followTenantMoves(bus));
    const queue = createQueue(config.redisUrl, config.redisPrefix);
    push('job queue', () => queue.close());
    const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true }) : undefined;
    if (redis) push('redis', async () => void redis.disconnect());

    const orms: MikroORM[] = [];
    const openOrm = async (entities: Parameters<typeof openAppOrm>[1], url = appUrl): Promise<MikroORM> => {
      const orm = await openAppOrm(url, entities, config.dbPoolMax);
      orms.push(orm);
      push('database pool', () => orm.close(true));
      return orm;
    };
    const redisCheck: ReadinessCheck[] = redis ? [{ name: 'redis', check: async () => void (await redis.ping()) }] : [];

    const urls: Partial<Record<ProcessRole, string>> = {};
    const services: Platform['services'] = {};
    const track = (role: ProcessRole, l: Listening): void => {
      urls[role] = role === 'workers' ? l.url : `${l.url}/graphql`;
      push(role, l.close);
    };
    const has = (r: ProcessRole): boolean => opts.roles.includes(r);
    const subgraph = async <S>(
      name: SubgraphName,
      port: number,
      schema: Awaited<ReturnType<typeof buildTenantSchema>>,
      orm: MikroORM,
      svc: S,
      mount?: SubgraphServerOptions<S>['mount'],
    ) =>
      serveSubgraph({
        mount,
        name,
        schema,
        host: config.host,
        port,
        jwtSecret,
        production: config.env === 'production',
        gatewaySecrets: keys.gatewaySecrets,
        gate: new AccessGate(orm, new TenantDirectory(orm), bus),
        services: svc,
        checks: [databaseCheck(orm), ...redisCheck],
      });

    if (has('tenant')) {
      const orm = await openOrm(tenantEntities);
      // One AES-256-GCM key ring (INTEGRATION_KEYS, rotatable) seals integration credentials and MFA secrets.
      const keyRing = keys.sealing;
      const auth = new AuthService(orm, bus, jwtSecret, { mfaKeyRing: keyRing });
      const integrations = new IntegrationService(orm, bus, keyRing, {
        publicWebhookBaseUrl: config.publicWebhookBaseUrl,
        paypalApiBaseUrl: config.paypalApiBaseUrl,
      });
      services.auth = auth;
      services.integrations = integrations;
      const server = await subgraph('tenant', config.ports.tenant, await buildTenantSchema(), orm, { auth, integrations }, (app) =>
        app.use(webhookRouter(integrations)),
      );
      integrations.setDefaultWebhookBaseUrl(server.url);
      track('tenant', server);
    }
    if (has('treasury')) {
      const orm = await openOrm(treasuryEntities);
      const engine = new TreasuryEngine({ exchangeMinCents: config.treasury.exchangeMinCents, manualMaxCents: config.treasury.manualMaxCents });
      const treasury = { rules: new TreasuryRuleService(bus), purchases: new PurchaseService(engine, bus) };
      track('treasury', await subgraph('treasury', config.ports.treasury, await buildTreasurySchema(), orm, treasury));
    }
    if (has('market-price')) {
      const orm = await openOrm(marketPriceEntities);
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
      push('price feeds', () => prices.stop());
      services.prices = prices;
      track('market-price', await subgraph('market-price', config.ports.marketPrice, await buildMarketPriceSchema(), orm, { prices }));
    }
    if (has('compliance')) {
      const orm = await openOrm(complianceEntities);
      track('compliance', await subgraph('compliance', config.ports.compliance, await buildComplianceSchema(), orm, {}));
    }
    if (has('workers')) {
      const orm = await openOrm([...complianceEntities, ...treasuryEntities]);
      const relayOrm = await openOrm([], roleUrl(ownerUrl, RELAY_ROLE, rolePassword));
      // Stopped after the relay and scheduler, before the pools: jobs in flight finish (or go back to the queue).
      push('jobs in flight', () => queue.close());
      track(
        'workers',
        await startWorkers({
          host: config.host,
          port: config.ports.workers,
          orm,
          relayOrm,
          queue,
          bus,
          outboxPollMs: config.outboxPollMs,
          treasury: config.treasury,
          keys: (services.keyJob = new KeyMaintenance({
            integrations: new IntegrationService(orm, bus, keys.sealing, { paypalApiBaseUrl: config.paypalApiBaseUrl }),
            mfa: new MfaService(orm, bus, keys.sealing, new LoginThrottle(orm)),
            rotate: keys.rotate,
            intervalMs: config.keys.resealIntervalMs,
          })),
        }),
      );
    }
    if (has('gateway')) {
      const defaults: Record<SubgraphName, string> = {
        tenant: `http://${config.host}:${config.ports.tenant}/graphql`,
        treasury: `http://${config.host}:${config.ports.treasury}/graphql`,
        'market-price': `http://${config.host}:${config.ports.marketPrice}/graphql`,
        compliance: `http://${config.host}:${config.ports.compliance}/graphql`,
      };
      const subgraphUrls = Object.fromEntries(
        (Object.keys(defaults) as SubgraphName[]).map((n) => {
          const running = urls[n as ProcessRole];
          return [n, config.subgraphUrls[n] ?? running ?? defaults[n]];
        }),
      );
      const gw = await startGateway({
        host: config.host,
        port: config.ports.gateway,
        supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
        subgraphUrls,
        jwtSecret,
        gatewaySecret: keys.gatewaySecrets[0],
        production: config.env === 'production',
        redis,
        bus,
        redisPrefix: config.redisPrefix,
        corsOrigins: config.gateway.corsOrigins,
        trustProxy: config.gateway.trustProxy,
        ...(config.gateway.rateLimits ? {} : { rateLimits: false as const }),
      });
      // It relays /webhooks/* to the tenant subgraph: the URL given to users is its public one (unless configured).
      services.integrations?.setDefaultWebhookBaseUrl(gw.url, 'gateway');
      track('gateway', gw);
    }
    services.keys = keys;
    return { urls, gatewayUrl: urls.gateway, ownerUrl, appUrl, jwtSecret, bus, queue, services, stop, stopStep: () => current };
  } catch (err) {
    await stop();
    throw err;
  }
}
