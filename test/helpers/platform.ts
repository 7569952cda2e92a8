import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphQLClient, ClientError } from 'graphql-request';
import { loadConfig } from '../../lib/config';
import { configureLogger } from '../../lib/logger';
import { ROLES, startPlatform, type Platform } from '../../ops/platform';
import { TEST_REDIS_URL, createTestDatabase, type TestDatabase } from './db';

export type TestPlatform = { platform: Platform; db: TestDatabase; gateway: string; stop(): Promise<void> };

/** Every role in this process on ephemeral ports, against a fresh database (and Redis when asked). */
export async function startTestPlatform(opts: { redis?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<TestPlatform> {
  configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = await createTestDatabase();
  const env = testEnv(db, opts);
  const platform = await startPlatform(loadConfig(env), { roles: ROLES, migrate: false });
  return {
    platform,
    db,
    gateway: platform.gatewayUrl!,
    async stop() {
      await platform.stop();
      await db.drop();
    },
  };
}

/** The settings a test platform runs with: its own database, ephemeral ports, fast ticks and polls (and its own Redis prefix). */
export function testEnv(db: TestDatabase, opts: { redis?: boolean; env?: NodeJS.ProcessEnv } = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: db.ownerUrl,
    APP_DB_PASSWORD: db.rolePassword,
    JWT_SECRET: randomBytes(32).toString('hex'),
    GATEWAY_PORT: '0',
    TENANT_PORT: '0',
    TREASURY_PORT: '0',
    MARKET_PRICE_PORT: '0',
    COMPLIANCE_PORT: '0',
    WORKERS_PORT: '0',
    PRICE_TICK_MS: '200',
    OUTBOX_POLL_MS: '100',
    DATA_DIR: '.data',
    // Notifications (#12) without SMTP_URL: each test's .eml files outside the repository's .data.
    MAIL_OUTBOX_DIR: join(tmpdir(), `abt-test-mail-${process.pid}`),
    SMS_OUTBOX_DIR: join(tmpdir(), `abt-test-sms-${process.pid}`),
    ...opts.env,
    ...(opts.redis ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `abt-test-${randomBytes(4).toString('hex')}` } : {}),
  };
}

export function client(url: string, token?: string): GraphQLClient {
  return new GraphQLClient(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The `extensions.code` of each error a request fails with (and the HTTP status). */
export async function errorCodes(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) return (err.response.errors ?? []).map((e) => String(e.extensions?.code));
    throw err;
  }
  throw new Error('expected the request to fail');
}
