import { randomBytes } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrate, openOwnerOrm } from '../../lib/db/migrate';
import { APP_ROLE, RELAY_ROLE, roleUrl } from '../../lib/db/roles';
import { loadOrCreateLocalSecrets } from '../../lib/secrets';

/** The real PostgreSQL the tests run against (CI starts it); each test file gets its own database. */
export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type TestDatabase = {
  name: string;
  ownerUrl: string;
  appUrl: string;
  relayUrl: string;
  rolePassword: string;
  /** Raw SQL as the owner (a superuser here: bypasses RLS, for arranging and tampering). */
  owner: MikroORM;
  drop(): Promise<void>;
};

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `abt_test_${randomBytes(6).toString('hex')}`;
  const admin = await openOwnerOrm(TEST_PG_URL);
  await admin.em.getConnection().execute(`create database ${name}`);
  await admin.close(true);
  const ownerUrl = new URL(TEST_PG_URL);
  ownerUrl.pathname = `/${name}`;
  const rolePassword = loadOrCreateLocalSecrets('.data').appDbPassword;
  await migrate(ownerUrl.toString(), rolePassword);
  const owner = await openOwnerOrm(ownerUrl.toString());
  return {
    name,
    ownerUrl: ownerUrl.toString(),
    appUrl: roleUrl(ownerUrl.toString(), APP_ROLE, rolePassword),
    relayUrl: roleUrl(ownerUrl.toString(), RELAY_ROLE, rolePassword),
    rolePassword,
    owner,
    async drop() {
      await owner.close(true);
      const a = await openOwnerOrm(TEST_PG_URL);
      await a.em.getConnection().execute(`drop database if exists ${name} with (force)`);
      await a.close(true);
    },
  };
}

/** Kept here for the tests that import it from the database helpers. */
export { eventually } from './wait';
