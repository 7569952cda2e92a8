import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import type { Role } from '../../lib/auth/tokens';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { AppError } from '../../lib/errors';
import type { WithdrawalUpdatedEvent } from '../../lib/events';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import { DAY_MS } from '../../subgraphs/treasury/withdrawals';
import { WithdrawalExecutor } from '../../subgraphs/treasury/withdrawals/executor';
import { PaperWithdrawalRail } from '../../subgraphs/treasury/withdrawals/rail';
import { WithdrawalService } from '../../subgraphs/treasury/withdrawals/service';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

// BIP 84's account zpub (m/84'/0'/0') and its first two receive addresses, from the BIP's test vectors.
const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';
const ADDR_0 = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu';
const ADDR_1 = 'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g';

/** The withdrawal service and executor on real PostgreSQL: cooling-off with a moved clock, who may confirm and approve, typed refusals that write nothing, exactly-once sending after a crash. */
describe('withdrawals (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const bus = new InProcessBus();
  const tenantId = randomUUID();
  const start = new Date('2026-12-01T00:00:00.000Z');
  let clock = start;
  const service = new WithdrawalService({ now: () => clock });
  const events: WithdrawalUpdatedEvent[] = [];
  const alice = randomUUID(); // OWNER, adds and requests
  const bob = randomUUID(); // OWNER, confirms and approves
  const carol = randomUUID(); // ADMIN
  const dave = randomUUID(); // OWNER

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const count = async (table: string): Promise<number> => Number((await sql<{ n: string }>(`select count(*)::text as n from pool.${table} where tenant_id = ?`, [tenantId]))[0]?.n);
  const member = (userId: string, role: Role, mfa = true): Scope => ({
    userId,
    tenantId,
    role,
    actor: 'user',
    amr: mfa ? ['pwd', 'otp'] : ['pwd'],
    tx: (fn, opts) => tenants.run(tenantId, fn, opts),
    read: (fn) => tenants.run(tenantId, fn),
  });
  /** The refusal's code and reason, and that it changed none of these tables. */
  async function refused(p: Promise<unknown>, tables: string[] = ['withdrawal_destination', 'withdrawal', 'withdrawal_approval', 'withdrawal_transition', 'outbox']) {
    const before = await Promise.all(tables.map(count));
    const destinations = await sql(`select * from pool.withdrawal_destination where tenant_id = ? order by id`, [tenantId]);
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(await Promise.all(tables.map(count))).toEqual(before);
    expect(await sql(`select * from pool.withdrawal_destination where tenant_id = ? order by id`, [tenantId])).toEqual(destinations);
    const e = err as AppError;
    return { code: e.extensions.code, reason: e.extensions.reason };
  }

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Self Custody Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
    await tenants.run(tenantId, ({ em }) => em.execute(`insert into holding (exchange, sats) values ('paper', 5000000)`));
    await bus.subscribe(`tenant.${tenantId}.withdrawal`, (_c, e) => events.push(e));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  it('refuses a bad address or a private key with a typed error and writes nothing', async () => {
    // One character of a valid bech32 address changed: the checksum fails.
    expect(await refused(service.addDestination(member(alice, 'OWNER'), { address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv', label: 'Ledger' }))).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'BAD_CHECKSUM',
    });
    // A testnet address on mainnet.
    expect(await refused(service.addDestination(member(alice, 'OWNER'), { address: 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx', label: 'Test' }))).toMatchObject({
      reason: 'WRONG_NETWORK',
    });
    expect(
      await refused(
        service.addDestination(member(alice, 'OWNER'), {
          xpub: 'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi',
          label: 'Cold',
        }),
      ),
    ).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PRIVATE_KEY_REFUSED' });
    expect(await refused(service.addDestination(member(alice, 'OWNER'), { address: ADDR_0, xpub: ZPUB, label: 'Both' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    // A USER may not add destinations (the kernel's manager roles).
    expect(await refused(service.addDestination(member(alice, 'USER'), { address: ADDR_0, label: 'Mine' }))).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_NOT_ALLOWED' });
  });

  let destinationId = '';
  it('makes an xpub destination usable only after a second member confirmed it and 24 hours passed (moved clock)', async () => {
    const d = await service.addDestination(member(alice, 'OWNER'), { xpub: ZPUB, label: 'Treasury cold wallet' });
    destinationId = d.id;
    expect(d).toMatchObject({ kind: 'XPUB', status: 'PENDING_CONFIRMATION', usable: false, scriptType: 'P2WPKH', coolingOffEndsAt: new Date(start.getTime() + DAY_MS) });
    // The creator cannot confirm their own destination; nor a session without a second factor.
    expect(await refused(service.confirmDestination(member(alice, 'OWNER'), d.id))).toEqual({ code: 'FORBIDDEN', reason: 'SELF_CONFIRMATION' });
    expect(await refused(service.confirmDestination(member(bob, 'OWNER', false), d.id))).toEqual({ code: 'MFA_REQUIRED', reason: 'MFA_REQUIRED' });
    expect(await refused(service.confirmDestination(member(bob, 'VIEWER'), d.id))).toMatchObject({ reason: 'ROLE_NOT_ALLOWED' });
    clock = new Date(start.getTime() + 60_000);
    expect((await service.confirmDestination(member(bob, 'OWNER'), d.id)).status).toBe('CONFIRMED');
    expect(await refused(service.confirmDestination(member(carol, 'ADMIN'), d.id))).toMatchObject({ reason: 'INVALID_TRANSITION' });

    // Confirmed, but still cooling off one millisecond before 24 hours: refused, nothing written, no index used.
    clock = new Date(start.getTime() + DAY_MS - 1);
    expect(await refused(service.request(member(alice, 'OWNER'), '100000', d.id, 'cool-off-early-1'))).toMatchObject({ code: 'CONFLICT', reason: 'COOLING_OFF' });
    expect((await service.destinations(member(alice, 'OWNER')))[0]).toMatchObject({ usable: false, derivation: { nextIndex: 0 } });

    clock = new Date(start.getTime() + DAY_MS);
    expect((await service.destinations(member(alice, 'OWNER')))[0]?.usable).toBe(true);
  });

  let withdrawalId = '';
  it('requests to the next derived address (BIP 84 vectors), idempotently, and refuses more than the balance', async () => {
    await service.setPolicy(member(alice, 'OWNER'), 0n, 2, ['OWNER']);
    const w = await service.request(member(alice, 'OWNER'), '1500000', destinationId, 'withdraw-key-0001');
    withdrawalId = w.row.id;
    expect(w.row).toMatchObject({ status: 'REQUESTED', sats: '1500000', address: ADDR_0, derivation_index: 0, approvals_required: 2, approver_roles: ['OWNER'] });
    // The same key and request: the same withdrawal, no second index used.
    expect((await service.request(member(alice, 'OWNER'), '1500000', destinationId, 'withdraw-key-0001')).row.id).toBe(withdrawalId);
    expect(await refused(service.request(member(alice, 'OWNER'), '1500001', destinationId, 'withdraw-key-0001'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await refused(service.request(member(alice, 'OWNER'), '3500001', destinationId, 'withdraw-key-0002'))).toMatchObject({ code: 'CONFLICT', reason: 'INSUFFICIENT_BALANCE' });
    expect(await refused(service.request(member(alice, 'OWNER'), '1.5', destinationId, 'withdraw-key-0003'))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_AMOUNT' });
    // ALL: the rest of the balance, to the next address.
    const all = await service.request(member(alice, 'OWNER'), 'ALL', destinationId, 'withdraw-key-0004');
    expect(all.row).toMatchObject({ sats: '3500000', requested_all: true, address: ADDR_1, derivation_index: 1 });
  });

  it('refuses the wrong approvers (the requester, no MFA, a role not allowed, the same member twice) and approves with two distinct owners', async () => {
    const alicesScope = member(alice, 'OWNER');
    expect(await refused(service.approve(alicesScope, withdrawalId))).toEqual({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await refused(service.approve(member(bob, 'OWNER', false), withdrawalId))).toEqual({ code: 'MFA_REQUIRED', reason: 'MFA_REQUIRED' });
    expect(await refused(service.approve(member(carol, 'ADMIN'), withdrawalId))).toMatchObject({ code: 'FORBIDDEN', reason: 'ROLE_NOT_ALLOWED' });
    const once = await service.approve(member(bob, 'OWNER'), withdrawalId);
    expect(once.row.status).toBe('REQUESTED');
    expect(once.approvals.map((a) => a.user_id)).toEqual([bob]);
    expect(await refused(service.approve(member(bob, 'OWNER'), withdrawalId))).toEqual({ code: 'CONFLICT', reason: 'DUPLICATE_APPROVAL' });
    const twice = await service.approve(member(dave, 'OWNER'), withdrawalId);
    expect(twice.row.status).toBe('APPROVED');
    expect(await refused(service.approve(member(carol, 'ADMIN'), withdrawalId))).toMatchObject({ reason: 'INVALID_TRANSITION' });
    // The execution job is in the outbox once, with the withdrawal id as its job id.
    expect(await sql(`select queue, job_name, payload from pool.outbox where tenant_id = ? and id = ?`, [tenantId, withdrawalId])).toEqual([
      { queue: 'purchases', job_name: 'withdrawal', payload: { withdrawalId } },
    ]);
  });

  it('a worker that crashes between the rail accepting and the status write sends exactly once on retry', async () => {
    const rail = new PaperWithdrawalRail();
    const executor = new WithdrawalExecutor({ tenants, rails: { paper: rail }, pollMs: 1, leaseMs: 1 });
    const crash = new Error('worker killed after the rail accepted');
    await expect(executor.execute(tenantId, withdrawalId, { afterSubmit: () => Promise.reject(crash) })).rejects.toBe(crash);
    expect(rail.submissions).toBe(1);
    const [mid] = await sql<{ status: string; txid: string | null }>(`select status, txid from pool.withdrawal where id = ?`, [withdrawalId]);
    expect(mid).toEqual({ status: 'SUBMITTED', txid: null });

    // The retry asks the rail for our client id and adopts what it has: no second send.
    expect(await executor.execute(tenantId, withdrawalId)).toBe('CONFIRMED');
    expect(rail.submissions).toBe(1);
    expect(rail.all()).toHaveLength(1);
    // A third run (a duplicate job) does nothing.
    expect(await executor.execute(tenantId, withdrawalId)).toBe('CONFIRMED');
    expect(rail.submissions).toBe(1);

    const w = await service.get(member(alice, 'OWNER'), withdrawalId);
    expect(w?.row.txid).toMatch(/^[0-9a-f]{64}$/);
    expect(w?.transitions.map((t) => `${t.from_status ?? '∅'}→${t.to_status}`)).toEqual([
      '∅→REQUESTED',
      'REQUESTED→APPROVED',
      'APPROVED→SUBMITTED',
      'SUBMITTED→BROADCAST',
      'BROADCAST→CONFIRMED',
    ]);
    const mine = events.filter((e) => e.withdrawalId === withdrawalId).map((e) => e.status);
    expect(mine).toEqual(['REQUESTED', 'APPROVED', 'SUBMITTED', 'BROADCAST', 'CONFIRMED']);
    const audited = await sql<{ job_name: string; event: string }>(
      `select payload->>'eventType' as event from pool.outbox where tenant_id = ? and payload->>'subjectId' = ? order by created_at, id`,
      [tenantId, withdrawalId],
    );
    expect(audited.map((a) => a.event)).toEqual(
      expect.arrayContaining(['withdrawal.requested', 'withdrawal.approval', 'withdrawal.approved', 'withdrawal.submitted', 'withdrawal.broadcast', 'withdrawal.confirmed']),
    );
  });
});
