import { randomBytes, randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { AccessGate } from '../../lib/access';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at, present } from '../helpers/present';

/**
 * Platform tables in `public` that hold tenant data (membership, invitation, api_key, refresh_token,
 * mfa_recovery_code) under row-level security, as the app role sees them: inside a tenant
 * transaction only that tenant's rows, whatever the query forgets; outside one, the platform's
 * pre-tenant lookups (README "Tenant data in public").
 */
const TABLES = ['membership', 'invitation', 'api_key', 'refresh_token', 'mfa_recovery_code'] as const;
type Table = (typeof TABLES)[number];
type Sql = Pick<AbstractSqlConnection, 'execute'>;

describe('row-level security on tenant data in public (real PostgreSQL, app role)', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let owner: Sql;
  let txs: TenantTransactions;
  let gate: AccessGate;
  const [A, B] = [randomUUID(), randomUUID()];
  /** Only in A, only in B, and in both. */
  const [uA, uB, uAB] = [randomUUID(), randomUUID(), randomUUID()];
  /** Each table's row ids by the tenant (or user) they belong to. */
  const ids: Record<Table, Record<string, string[]>> = { membership: {}, invitation: {}, api_key: {}, refresh_token: {}, mfa_recovery_code: {} };
  const note = (table: Table, whose: string, id: string): void => void (ids[table][whose] ??= []).push(id);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, [], 3);
    const directory = new TenantDirectory(app);
    txs = new TenantTransactions(app, directory);
    gate = new AccessGate(app, directory);
    for (const [t, name] of [[A, 'Alpha'], [B, 'Beta']]) await owner.execute(`insert into public.tenant (id, name) values (?, ?)`, [t, name]);
    for (const u of [uA, uB, uAB]) await owner.execute(`insert into public.app_user (id, email, password_hash) values (?, ?, 'x')`, [u, `${u}@rls.example`]);
    const members: [string, string][] = [[A, uA], [B, uB], [A, uAB], [B, uAB]];
    for (const [t, u] of members) {
      await owner.execute(`insert into public.membership (tenant_id, user_id, role) values (?, ?, 'USER')`, [t, u]);
      note('membership', t, `${t}/${u}`);
      const rt = randomUUID();
      await owner.execute(
        `insert into public.refresh_token (id, family_id, user_id, tenant_id, token_hash, expires_at) values (?, ?, ?, ?, ?, now() + interval '1 day')`,
        [rt, randomUUID(), u, t, randomBytes(16).toString('hex')],
      );
      note('refresh_token', t, rt);
    }
    for (const t of [A, B]) {
      const inv = randomUUID();
      await owner.execute(
        `insert into public.invitation (id, tenant_id, email, role, token_hash, invited_by, expires_at) values (?, ?, ?, 'VIEWER', ?, ?, now() + interval '1 day')`,
        [inv, t, `${inv}@invite.example`, randomBytes(16).toString('hex'), uAB],
      );
      note('invitation', t, inv);
      const key = randomUUID();
      await owner.execute(
        `insert into public.api_key (id, tenant_id, name, lookup, secret_hash, scopes, created_by) values (?, ?, 'k', ?, 'h', '{read:treasury}', ?)`,
        [key, t, randomBytes(6).toString('hex'), uAB],
      );
      note('api_key', t, key);
    }
    for (const u of [uA, uB, uAB]) {
      const rc = randomUUID();
      await owner.execute(`insert into public.mfa_recovery_code (id, user_id, code_hash) values (?, ?, 'h')`, [rc, u]);
      note('mfa_recovery_code', u, rc);
    }
  }, 60_000);
  afterAll(async () => {
    await app?.close(true);
    await db?.drop();
  });

  const idColumn = (table: Table): string => (table === 'membership' ? `tenant_id || '/' || user_id` : 'id::text');
  const visible = async (em: EntityManager, table: Table): Promise<string[]> =>
    (await em.execute<{ id: string }[]>(`select ${idColumn(table)} as id from public.${table}`)).map((r) => r.id).sort();
  const all = (table: Table, ...whose: string[]): string[] => whose.flatMap((w) => ids[table][w] ?? []).sort();
  const everything = async (em: EntityManager): Promise<Record<Table, string[]>> => {
    const out = {} as Record<Table, string[]>;
    for (const t of TABLES) out[t] = await visible(em, t);
    return out;
  };

  it('shows a session with app.tenant_id = A none of B’s rows, in every table, with no WHERE clause', async () => {
    expect(await txs.run(A, ({ em }) => everything(em))).toEqual({
      membership: all('membership', A),
      invitation: all('invitation', A),
      api_key: all('api_key', A),
      refresh_token: all('refresh_token', A),
      // Recovery codes of A's members (uAB is one), never of a user only in B.
      mfa_recovery_code: all('mfa_recovery_code', uA, uAB),
    });
    expect(await txs.run(B, ({ em }) => everything(em))).toEqual({
      membership: all('membership', B),
      invitation: all('invitation', B),
      api_key: all('api_key', B),
      refresh_token: all('refresh_token', B),
      mfa_recovery_code: all('mfa_recovery_code', uB, uAB),
    });
  });

  it('hides B’s rows from A even when asked for them by id, and lets A change none of them', async () => {
    const bKey = at(present(ids.api_key[B], 'B api keys'), 0, 'B api keys');
    /** Rows a statement touched (`returning 1`), under A's row-level security. */
    const touched = (em: EntityManager, sql: string, params: unknown[]): Promise<number> =>
      em.execute<{ n: number }[]>(`with w as (${sql} returning 1) select count(*)::int as n from w`, params).then((r) => at(r, 0, 'count').n);
    const changed = await txs.run(A, async ({ em }) => ({
      byId: (await em.execute<unknown[]>(`select id from public.api_key where id = ?`, [bKey])).length,
      revoke: await touched(em, `update public.api_key set revoked_at = now() where tenant_id = ?`, [B]),
      removeMember: await touched(em, `delete from public.membership where tenant_id = ?`, [B]),
      logoutB: await touched(em, `update public.refresh_token set revoked_at = now() where tenant_id = ?`, [B]),
      invitations: await touched(em, `delete from public.invitation where tenant_id = ?`, [B]),
      recoveryCodes: await touched(em, `delete from public.mfa_recovery_code where user_id = ?`, [uB]),
    }));
    expect(changed).toEqual({ byId: 0, revoke: 0, removeMember: 0, logoutB: 0, invitations: 0, recoveryCodes: 0 });
    const { n } = at(await owner.execute<{ n: number }[]>(`select count(*)::int as n from public.api_key where tenant_id = ? and revoked_at is null`, [B]), 0, 'row');
    expect(n).toBe(1);
  });

  it('refuses writing a row of B while in A (42501), in every table', async () => {
    const attempts: Record<Table, string> = {
      membership: `insert into public.membership (tenant_id, user_id, role) values ('${B}', '${uA}', 'OWNER')`,
      invitation: `insert into public.invitation (id, tenant_id, email, role, token_hash, invited_by, expires_at) values ('${randomUUID()}', '${B}', 'x@y.example', 'OWNER', 'h${randomUUID()}', '${uA}', now())`,
      api_key: `insert into public.api_key (id, tenant_id, name, lookup, secret_hash, scopes, created_by) values ('${randomUUID()}', '${B}', 'k', 'AAAAAAAAAAAA', 'h', '{}', '${uA}')`,
      refresh_token: `insert into public.refresh_token (id, family_id, user_id, tenant_id, token_hash, expires_at) values ('${randomUUID()}', '${randomUUID()}', '${uB}', '${B}', 'h${randomUUID()}', now())`,
      mfa_recovery_code: `insert into public.mfa_recovery_code (id, user_id, code_hash) values ('${randomUUID()}', '${uB}', 'h')`,
    };
    const outcomes: Record<string, string> = {};
    for (const t of TABLES) {
      outcomes[t] = await txs.run(A, ({ em }) => em.execute(attempts[t])).then(
        () => 'written',
        (err: { code?: string; message?: string }) => `${err.code}: ${err.message?.includes(`row-level security policy for table "${t}"`) ? 'rls' : err.message}`,
      );
    }
    expect(outcomes).toEqual(Object.fromEntries(TABLES.map((t) => [t, '42501: rls'])));
  });

  it('lets a signed-in user’s scope reach their own sessions in every tenant (logoutEverywhere), and no one else’s', async () => {
    const scope = gate.require({ principal: { kind: 'user', userId: uAB, tenantId: A, role: 'USER', amr: ['pwd'] } }, 'tenant:read');
    const seen = await scope.tx(({ em }) => visible(em, 'refresh_token'));
    const uABinB = (await owner.execute<{ id: string }[]>(`select id::text from public.refresh_token where user_id = ? and tenant_id = ?`, [uAB, B])).map((r) => r.id);
    expect(seen).toEqual([...all('refresh_token', A), ...uABinB].sort());
  });

  it('outside a tenant transaction (login, refresh, key lookup) the platform paths read as before', async () => {
    const em = app.em.fork();
    for (const t of TABLES) {
      const whose = t === 'mfa_recovery_code' ? [uA, uB, uAB] : [A, B];
      expect([t, await visible(em, t)]).toEqual([t, all(t, ...whose)]);
    }
  });
});
