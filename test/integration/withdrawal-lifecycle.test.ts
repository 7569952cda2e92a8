import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import type { Role } from '../../lib/auth/tokens';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { AppError } from '../../lib/errors';
import { TaxTransferFactV1 } from '../../lib/events/tax-facts';
import type { WithdrawalUpdatedEvent } from '../../lib/events';
import { configureLogger } from '../../lib/logger';
import { InProcessQueue } from '../../lib/queue';
import { recordTransferFact } from '../../subgraphs/compliance/jobs/tax.processor';
import { treasuryEntities } from '../../subgraphs/treasury';
import { DAY_MS } from '../../subgraphs/treasury/withdrawals';
import { WithdrawalExecutor } from '../../subgraphs/treasury/withdrawals/executor';
import { PaperWithdrawalRail } from '../../subgraphs/treasury/withdrawals/rail';
import { WithdrawalService } from '../../subgraphs/treasury/withdrawals/service';
import { WithdrawalScheduler, autoPeriodOf } from '../../subgraphs/treasury/withdrawals/scheduler';
import { taxTransferOnConfirmed } from '../../subgraphs/treasury/withdrawals/tax-fact';
import { purchasesQueueHandler } from '../../subgraphs/treasury/withdrawals/wiring';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { present } from '../helpers/present';
import { waitFor } from '../helpers/wait';

const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';

/**
 * After approval: reject and cancel (typed refusals that write nothing), destinations disabled and
 * renamed, the sweeper advancing SUBMITTED → BROADCAST → CONFIRMED one look per pass (each step
 * stored, audited, published), the tax transfer fact written with CONFIRMED and recorded by
 * compliance once, and auto-withdraw deciding once per period.
 */
describe('withdrawal lifecycle: reject, cancel, sweeper, tax transfer, auto-withdraw (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const bus = new InProcessBus();
  const tenantId = randomUUID();
  const start = new Date('2026-12-01T00:00:00.000Z');
  let clock = start;
  const service = new WithdrawalService({ now: () => clock });
  const events: WithdrawalUpdatedEvent[] = [];
  const alice = randomUUID();
  const bob = randomUUID();
  const viewer = randomUUID();
  let destinationId = '';

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const count = async (table: string): Promise<number> => Number((await sql<{ n: string }>(`select count(*)::text as n from pool.${table} where tenant_id = ?`, [tenantId]))[0]?.n);
  const member = (userId: string, role: Role, mfa = true): Scope => ({ userId, tenantId, role, actor: 'user', amr: mfa ? ['pwd', 'otp'] : ['pwd'], tx: (fn, opts) => tenants.run(tenantId, fn, opts), read: (fn) => tenants.run(tenantId, fn) });
  async function refused(p: Promise<unknown>) {
    const tables = ['withdrawal', 'withdrawal_transition', 'withdrawal_destination', 'outbox'];
    const before = await Promise.all(tables.map(count));
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(await Promise.all(tables.map(count))).toEqual(before);
    const e = err as AppError;
    return { code: e.extensions.code, reason: e.extensions.reason };
  }
  const requested = async (sats: string) => (await service.request(member(alice, 'OWNER'), sats, destinationId, `key-${randomUUID()}`)).row.id;
  const status = async (id: string) => (await sql<{ status: string }>(`select status from pool.withdrawal where id = ?`, [id]))[0]?.status;

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Own Wallet Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
    await tenants.run(tenantId, ({ em }) => em.execute(`insert into holding (exchange, sats) values ('paper', 9000000)`));
    await bus.subscribe(`tenant.${tenantId}.withdrawal`, (_c, e) => events.push(e));
    const d = await service.addDestination(member(alice, 'OWNER'), { xpub: ZPUB, label: 'Cold' });
    destinationId = d.id;
    await service.confirmDestination(member(bob, 'OWNER'), d.id);
    clock = new Date(start.getTime() + DAY_MS);
    await service.setPolicy(member(alice, 'OWNER'), 0n, 1, ['OWNER']);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  it('rejects with a reason (not by the requester, not without MFA or a reason) and cancels before submission; illegal states are typed errors', async () => {
    const a = await requested('100000');
    expect(await refused(service.reject(member(alice, 'OWNER'), a, 'no'))).toEqual({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await refused(service.reject(member(bob, 'OWNER', false), a, 'no'))).toMatchObject({ reason: 'MFA_REQUIRED' });
    expect(await refused(service.reject(member(bob, 'OWNER'), a, '   '))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REASON_REQUIRED' });
    const rejected = await service.reject(member(bob, 'OWNER'), a, 'not this week');
    expect(rejected.row).toMatchObject({ status: 'REJECTED', failure_reason: 'not this week' });
    expect(await refused(service.approve(member(bob, 'OWNER'), a))).toMatchObject({ reason: 'INVALID_TRANSITION' });
    expect(await refused(service.cancel(member(alice, 'OWNER'), a))).toMatchObject({ reason: 'INVALID_TRANSITION' });

    // Cancelled after approval: the queued job then finds it CANCELLED and sends nothing.
    const b = await requested('100000');
    await service.approve(member(bob, 'OWNER'), b);
    expect(await refused(service.cancel(member(viewer, 'VIEWER'), b))).toMatchObject({ reason: 'ROLE_NOT_ALLOWED' });
    expect((await service.cancel(member(alice, 'OWNER'), b)).row.status).toBe('CANCELLED');
    const rail = new PaperWithdrawalRail();
    expect(await new WithdrawalExecutor({ tenants, rails: { paper: rail }, now: () => clock }).execute(tenantId, b)).toBe('CANCELLED');
    expect(rail.submissions).toBe(0);
    expect(await sql(`select withdrawal_id, to_status, actor_id, reason from pool.withdrawal_transition where to_status in ('REJECTED', 'CANCELLED') and withdrawal_id in (?, ?) order by seq`, [a, b])).toEqual([
      { withdrawal_id: a, to_status: 'REJECTED', actor_id: bob, reason: 'not this week' },
      { withdrawal_id: b, to_status: 'CANCELLED', actor_id: alice, reason: 'cancelled' },
    ]);
  });

  it('the sweeper advances SUBMITTED → BROADCAST → CONFIRMED one look per pass, each step published; CONFIRMED writes the tax transfer fact, recorded by compliance once', async () => {
    const id = await requested('2000000');
    await service.approve(member(bob, 'OWNER'), id);
    const rail = new PaperWithdrawalRail({ feeSats: 1200n });
    const executor = new WithdrawalExecutor({ tenants, rails: { paper: rail }, pollMs: 1, leaseMs: 1, now: () => clock, onConfirmed: taxTransferOnConfirmed(() => Promise.resolve('150000.00')) });
    const queue = new InProcessQueue();
    queue.process('purchases', purchasesQueueHandler(() => Promise.reject(new Error('no purchases here')), executor));
    const scheduler = new WithdrawalScheduler({ orm, tenants, queue, intervalMs: 1, staleMs: 0 });
    const seen: string[] = [];
    for (const want of ['SUBMITTED', 'BROADCAST', 'CONFIRMED']) {
      await scheduler.tickTenant(tenantId);
      await waitFor(async () => (await status(id)) === want, `withdrawal ${want}`);
      seen.push(want);
      await new Promise((r) => setTimeout(r, 5)); // the next pass is a new bucket
    }
    expect(seen).toEqual(['SUBMITTED', 'BROADCAST', 'CONFIRMED']);
    expect(rail.submissions).toBe(1);
    await scheduler.tickTenant(tenantId); // nothing open any more: no job
    await queue.close();
    await waitFor(() => events.filter((e) => e.withdrawalId === id).length >= 5, 'live events');
    expect(events.filter((e) => e.withdrawalId === id).map((e) => e.status)).toEqual(['REQUESTED', 'APPROVED', 'SUBMITTED', 'BROADCAST', 'CONFIRMED']);

    const [row] = await sql<{ fee_sats: string; txid: string; travel_rule: { originator: { name: string }; wallet: { selfHosted: boolean }; ownership: { checkMade: boolean; confirmedBy: string } } }>(
      `select fee_sats::text as fee_sats, txid, travel_rule from pool.withdrawal where id = ?`,
      [id],
    );
    expect(row).toMatchObject({ fee_sats: '1200', travel_rule: { originator: { name: 'Own Wallet Pty Ltd' }, wallet: { selfHosted: true }, ownership: { checkMade: true, confirmedBy: bob } } });
    const facts = await sql<{ payload: unknown }>(`select payload from pool.outbox where tenant_id = ? and job_name = 'tax.transfer'`, [tenantId]);
    expect(facts).toHaveLength(1);
    const fact = TaxTransferFactV1.parse(present(facts[0], 'fact').payload);
    // 1200 sats at AUD 150,000 = AUD 1.80; the parcels move, the fee is the kernel's FEE disposal.
    expect(fact).toMatchObject({ id, fromWallet: 'paper', toWallet: `destination:${destinationId}`, sats: '1998800', networkFeeSats: '1200', networkFeeMarketValueAudCents: '180', txid: row?.txid });
    expect(await tenants.run(tenantId, (tx) => recordTransferFact(tx, fact))).toBe(true);
    expect(await tenants.run(tenantId, (tx) => recordTransferFact(tx, fact))).toBe(false);
    expect(await sql(`select from_wallet, to_wallet, sats::text as sats, network_fee_sats::text as fee from pool.tax_transfer where tenant_id = ?`, [tenantId])).toEqual([
      { from_wallet: 'paper', to_wallet: `destination:${destinationId}`, sats: '1998800', fee: '1200' },
    ]);
    expect(await count('tax_disposal')).toBe(0);
  });

  it('auto-withdraw: refuses a bad policy with a typed error, skips when the fee is too high, and withdraws once per period to the next derived address', async () => {
    expect(await refused(service.setAutoWithdrawPolicy(member(alice, 'OWNER'), { enabled: true, destinationId, thresholdSats: 100n, keepSats: 100n, maxFeeShareBps: 50, feeSatPerKvB: 1000n }))).toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    // 141 vB × 10,000 sat/kvB ≈ 1410 sats on ~6.8M: fine; at 1,000,000 sat/kvB (141,000 sats) it is above 0.5%.
    await service.setAutoWithdrawPolicy(member(alice, 'OWNER'), { enabled: true, destinationId, thresholdSats: 1_000_000n, keepSats: 200_000n, maxFeeShareBps: 50, feeSatPerKvB: 1_000_000n });
    const period = autoPeriodOf(clock, DAY_MS);
    const before = await count('withdrawal');
    expect(await tenants.run(tenantId, (tx) => service.runAutoWithdraw(tx, period))).toMatchObject({ withdraw: false, reason: 'FEE_TOO_HIGH' });
    expect(await count('withdrawal')).toBe(before);

    await service.setAutoWithdrawPolicy(member(alice, 'OWNER'), { enabled: true, destinationId, thresholdSats: 1_000_000n, keepSats: 200_000n, maxFeeShareBps: 50, feeSatPerKvB: 10_000n });
    const first = await tenants.run(tenantId, (tx) => service.runAutoWithdraw(tx, period));
    expect(first).toMatchObject({ withdraw: true });
    expect(await tenants.run(tenantId, (tx) => service.runAutoWithdraw(tx, period))).toMatchObject({ withdraw: false, reason: 'ALREADY_DONE' });
    const autos = await sql<{ id: string; status: string; sats: string; derivation_index: number }>(
      `select id, status, sats::text as sats, derivation_index from pool.withdrawal where tenant_id = ? and auto_period = ?`,
      [tenantId, period],
    );
    expect(autos).toHaveLength(1);
    // 9,000,000 held − 2,000,000 withdrawn − 200,000 kept: approved by the policy and queued like any approved one.
    expect(autos[0]).toMatchObject({ status: 'APPROVED', sats: '6800000' });
    expect(await sql(`select job_name from pool.outbox where tenant_id = ? and id = ?`, [tenantId, autos[0]?.id])).toEqual([{ job_name: 'withdrawal' }]);
  });

  it('disables and renames a destination (each audited; a rename needs a new confirmation); a disabled one takes no withdrawal', async () => {
    const renamed = await service.renameDestination(member(alice, 'OWNER'), destinationId, 'Cold storage');
    expect(renamed).toMatchObject({ label: 'Cold storage', status: 'PENDING_CONFIRMATION', usable: false });
    expect(await refused(service.request(member(alice, 'OWNER'), '1000', destinationId, 'after-rename-1'))).toMatchObject({ code: 'CONFLICT' });
    expect(await refused(service.renameDestination(member(viewer, 'VIEWER'), destinationId, 'x'))).toMatchObject({ reason: 'ROLE_NOT_ALLOWED' });
    const disabled = await service.disableDestination(member(alice, 'OWNER'), destinationId);
    expect(disabled.status).toBe('DISABLED');
    expect(await refused(service.disableDestination(member(alice, 'OWNER'), destinationId))).toMatchObject({ reason: 'INVALID_TRANSITION' });
    expect((await service.reenableDestination(member(alice, 'OWNER'), destinationId)).status).toBe('PENDING_CONFIRMATION');
  });
});
