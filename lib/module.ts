import type { MigrationObject } from '@mikro-orm/core';
import type { EntityClass, MikroORM } from '@mikro-orm/postgresql';
import type express from 'express';
import type { GraphQLSchema } from 'graphql';
import type { AccessGate } from './access';
import type { EventBus } from './bus';
import type { Config } from './config';
import type { TenantTransactions } from './db/tenant-tx';
import type { KeyRing } from './crypto/secret-box';
import type { JwtKeyRing } from './auth/tokens';
import type { JobHandler, JobQueue, QueueName } from './queue';

/**
 * The contract every domain module (`subgraphs/<name>/module.ts`) fulfils. `ops/platform.ts` and the
 * workers process only iterate modules: what a module owns (tables, migrations, schema, services,
 * queue processors, schedules, references) is declared here and nowhere else.
 */

/** A migration of tenant-owned tables: runs once in `pool` and once in every dedicated schema. */
export type TenantMigration = {
  /** Unique across modules, `NNNN_<what>`; ordered by name across all modules. */
  name: string;
  /**
   * Names under which this migration's statements were already applied before modules owned their
   * migrations (e.g. a part of `0001_foundation`): a schema that recorded one of them skips this one.
   */
  replaces?: readonly string[];
  up: (schema: string) => string[];
};

/**
 * A MikroORM migration of `public` tables (`Migration<timestamp>_<what>`, class name = file name =
 * the name recorded in mikro_orm_migrations). `replaces`: as for TenantMigration, read from the
 * class's static `replaces` by loadPublicMigrations.
 */
export type PublicMigration = MigrationObject & { replaces?: readonly string[] };

/** Tables a module owns, and the other modules' tables it may touch (declared, reviewed, tested). */
export type TableContract = {
  /** Tenant tables (in pool / dedicated schemas) this module creates and writes. */
  tenant: readonly string[];
  /** Tables in `public` this module creates and writes. */
  public: readonly string[];
  /**
   * Another module's tables this one reads or writes, each with why. The only legal cross-module
   * table access; `test/architecture/module-boundaries.test.ts` fails on any other.
   */
  shared?: ReadonlyArray<{ module: ModuleName; table: string; access: 'read' | 'write'; why: string }>;
};

export type ModuleName = 'tenant' | 'treasury' | 'market-price' | 'compliance';

/** The platform's keys, shared by every role of a process (mutated in place when generated keys rotate). */
export type ModuleKeys = {
  jwt: JwtKeyRing;
  sealing: KeyRing;
  gatewaySecrets: string[];
  /** Embedded mode with every role in this process: rotates generated keys that are due; returns which. */
  rotate?: () => string[];
};

/** What the platform gives a module. */
export type ModuleDeps = {
  config: Config;
  /** App-role ORM: with this module's entities in its subgraph role, with every module's in the workers role. */
  orm: MikroORM;
  /** The one way into a tenant (lib/db/tenant-tx.ts). */
  tenants: TenantTransactions;
  gate: AccessGate;
  bus: EventBus;
  queue: JobQueue;
  keys: ModuleKeys;
  /** Other modules' published ports (see ModulePorts), when their module runs in the platform. */
  ports: Partial<ModulePorts>;
};

/**
 * Typed calls one module offers another, instead of reading its tables. A module declares what it
 * provides; a consumer gets it through `deps.ports` (in-process) and must cope with its absence.
 */
export interface ModulePorts {
  /** market-price: the aggregated BTC/AUD price and candle averages. */
  prices: {
    latest(): Promise<string | null>;
    /** Exact decimal string, or null when there is no data in the window. */
    averageOverDays(days: number): Promise<string | null>;
    /** The price at an instant: the close of the last 1-minute candle that ended by `at`; null when none is recorded. */
    closeAt(at: Date): Promise<string | null>;
  };
}

/** A queue processor the workers process runs for a module. */
export type ModuleProcessor = { queue: QueueName; handler: JobHandler; concurrency: number };

/** Something that runs in the background of the workers process (a scheduler, a sweeper, a feed). */
export type ModuleBackground = { name: string; start(): Promise<void> | void; stop(): Promise<void> };

/** What a module runs in the workers role. */
export type ModuleJobs = { processors: ModuleProcessor[]; background: ModuleBackground[] };

export interface PlatformModule<S = unknown> {
  readonly name: ModuleName;
  readonly entities: readonly EntityClass<object>[];
  readonly tables: TableContract;
  /** MikroORM migrations of this module's public tables (`Migration<timestamp>_<what>` classes). */
  publicMigrations(): PublicMigration[];
  readonly tenantMigrations: readonly TenantMigration[];
  /** The federated schema (type-graphql + @apollo/subgraph); references live in `*.reference.ts`. */
  buildSchema(): Promise<GraphQLSchema>;
  /** The services its resolvers use (the subgraph role). */
  createServices(deps: ModuleDeps): Promise<S> | S;
  /** Stops what createServices started (feeds, timers), when the role stops. */
  closeServices?(services: S): Promise<void>;
  /** Extra HTTP routes on the subgraph (e.g. webhooks), mounted before /graphql. */
  mount?(app: express.Express, services: S, deps: ModuleDeps): void;
  /**
   * Where callers reach this subgraph: its own URL once it listens, then the gateway's when one runs
   * in this process (e.g. tenant tells users the webhook URL).
   */
  published?(services: S, at: { url: string; via: 'subgraph' | 'gateway' }): void;
  /** Ports this module offers to the others (built in whichever role needs them). */
  providePorts?(deps: ModuleDeps): Promise<Partial<ModulePorts>> | Partial<ModulePorts>;
  /** Queue processors and background work (the workers role). */
  jobs?(deps: ModuleDeps): Promise<ModuleJobs> | ModuleJobs;
}
