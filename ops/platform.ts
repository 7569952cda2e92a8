import { readFileSync } from 'node:fs';
import { createLocalObjectStore } from '../lib/storage/from-config';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AccessGate } from '../lib/access';
import { createBus, type EventBus } from '../lib/bus';
import type { JwtKeys } from '../lib/auth/tokens';
import type { Config, SubgraphName } from '../lib/config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../lib/db/embedded';
import { allPublicMigrations, allTenantMigrations, migrate, openOwnerOrm } from '../lib/db/migrate';
import { databaseCheck, openAppOrm } from '../lib/db/orm';
import { APP_ROLE, RELAY_ROLE, assertSchemaName, roleUrl } from '../lib/db/roles';
import { TenantDirectory, followTenantMoves } from '../lib/db/tenant-context';
import { TenantTransactions } from '../lib/db/tenant-tx';
import type { Listening, ReadinessCheck } from '../lib/http';
import { log, redactUrl } from '../lib/logger';
import type { ModuleDeps, ModulePorts, PlatformModule } from '../lib/module';
import { createQueue, type JobQueue } from '../lib/queue';
import { connectRedis } from '../lib/redis';
import { loadOrCreateLocalSecrets, localIntegrationKeyRing, localJwtKeyRing, rotateLocalKeys, type LocalSecrets } from '../lib/secrets';
import { serveSubgraph } from '../lib/subgraph';
import { startTracing } from '../lib/tracing';
import { keyRingFromEnv, type KeyRing } from '../lib/crypto/secret-box';
import { gatewaySecretsFromEnv } from '../lib/auth/gateway-signature';
import { jwtKeyRing, jwtKeyRingFromEnv, type JwtKeyRing } from '../lib/auth/tokens';
import { startGateway } from '../gateway/gateway';
import { SUPERGRAPH_PATH } from '../schema/compose';
import { PriceService } from '../subgraphs/market-price/price.service';
import { AuthService } from '../subgraphs/tenant/identity/auth.service';
import { IntegrationService } from '../subgraphs/tenant/payments/integration.service';
import { KeyMaintenance } from '../subgraphs/tenant/jobs/keys-reseal';
import { startWorkers } from '../workers';
import { MODULES } from './modules';

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
  const publicNames = allPublicMigrations().map((m) => m.name);
  const tenantNames = allTenantMigrations().map((m) => m.name);
  const orm = await openOwnerOrm(ownerUrl);
  try {
    const [row] = await orm.em.getConnection().execute<{ ok: boolean }[]>(
      `select (select count(*) from mikro_orm_migrations where name = any(?)) = ?
          and (select count(*) from pg_roles where rolname in (?, ?)) = 2
          and not exists (
            select 1 from (select 'pool' as s union select distinct schema_name from public.tenant) schemas
            where (select count(*) from pg_catalog.pg_namespace n where n.nspname = schemas.s) = 0) as ok`,
      [publicNames, publicNames.length, APP_ROLE, RELAY_ROLE],
    );
    if (!row?.ok) return false;
    const schemas = await orm.em.getConnection().execute<{ s: string }[]>(`select 'pool' as s union select distinct schema_name from public.tenant`);
    for (const { s } of schemas) {
      assertSchemaName(s);
      const [counted] = await orm.em
        .getConnection()
        .execute<{ n: number }[]>(`select count(*)::int as n from "${s}".schema_migrations where name = any(?)`, [tenantNames]);
      if (!counted) throw new Error(`counting applied migrations in schema ${s} returned no row`);
      if (counted.n !== tenantNames.length) return false;
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

const SUBGRAPH_PORT: Record<SubgraphName, 'tenant' | 'treasury' | 'marketPrice' | 'compliance'> = {
  tenant: 'tenant',
  treasury: 'treasury',
  'market-price': 'marketPrice',
  compliance: 'compliance',
};

/** The handles tests and `npm start` (demo seed) reach for, found among a module's services. */
function collectHandles(into: Platform['services'], svc: unknown): void {
  if (typeof svc !== 'object' || svc === null) return;
  for (const v of Object.values(svc)) {
    if (v instanceof PriceService) into.prices = v;
    if (v instanceof AuthService) into.auth = v;
    if (v instanceof IntegrationService) into.integrations = v;
  }
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
    // First in, last out: the last spans (the shutdown's own) are flushed after everything else stopped.
    const tracing = startTracing(config.tracing, opts.roles);
    push('tracing', () => tracing.stop());
    if (tracing.enabled) log().info({ traces: redactUrl(config.tracing.tracesUrl!), roles: opts.roles }, 'tracing to an OTLP collector');
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
    const redis = config.redisUrl ? connectRedis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true }) : undefined;
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
    /** What each module gets in a role: one app-role ORM, the tenant transactions and gate over it, and the modules' ports. */
    const depsFor = async (orm: MikroORM): Promise<ModuleDeps> => {
      const directory = new TenantDirectory(orm);
      const deps: ModuleDeps = { config, orm, tenants: new TenantTransactions(orm, directory, bus), gate: new AccessGate(orm, directory, bus), bus, queue, keys, ports: {} };
      const ports: Partial<ModulePorts> = {};
      for (const m of MODULES) if (m.providePorts) Object.assign(ports, await m.providePorts(deps));
      return { ...deps, ports };
    };
    const published: Array<{ module: PlatformModule; services: unknown }> = [];

    for (const m of MODULES) {
      if (!has(m.name)) continue;
      const deps = await depsFor(await openOrm([...m.entities]));
      const svc = await m.createServices(deps);
      if (m.closeServices) push(`${m.name} services`, () => m.closeServices!(svc));
      const server = await serveSubgraph({
        mount: m.mount ? (app) => m.mount!(app, svc, deps) : undefined,
        name: m.name,
        schema: await m.buildSchema(),
        host: config.host,
        port: config.ports[SUBGRAPH_PORT[m.name]],
        jwtSecret,
        production: config.env === 'production',
        gatewaySecrets: keys.gatewaySecrets,
        gate: deps.gate,
        services: svc,
        checks: [databaseCheck(deps.orm), ...redisCheck],
      });
      m.published?.(svc, { url: server.url, via: 'subgraph' });
      published.push({ module: m, services: svc });
      collectHandles(services, svc);
      track(m.name, server);
    }
    if (has('workers')) {
      // One ORM with every module's entities: a worker runs any module's jobs.
      const orm = await openOrm([...new Set(MODULES.flatMap((m) => m.entities))]);
      const relayOrm = await openOrm([], roleUrl(ownerUrl, RELAY_ROLE, rolePassword));
      // Stopped after the relay and background work, before the pools: jobs in flight finish (or go back to the queue).
      push('jobs in flight', () => queue.close());
      const workers = await startWorkers({
        host: config.host,
        port: config.ports.workers,
        deps: await depsFor(orm),
        modules: MODULES,
        relayOrm,
        outboxPollMs: config.outboxPollMs,
      });
      services.keyJob = workers.background.find((b): b is KeyMaintenance => b instanceof KeyMaintenance);
      track('workers', workers);
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
        ...(config.storage.kind === 'local' ? { files: createLocalObjectStore(config) } : {}),
      });
      // It relays /webhooks/* to the subgraphs: the URL given to users is its public one (unless configured).
      for (const p of published) p.module.published?.(p.services, { url: gw.url, via: 'gateway' });
      track('gateway', gw);
    }
    services.keys = keys;
    return { urls, gatewayUrl: urls.gateway, ownerUrl, appUrl, jwtSecret, bus, queue, services, stop, stopStep: () => current };
  } catch (err) {
    await stop();
    throw err;
  }
}
