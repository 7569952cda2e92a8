import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import type { Role } from '../../lib/auth/tokens';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import { KrakenClient } from '../../subgraphs/treasury/exchanges/kraken.client';
import { KrakenWithdrawalRail } from '../../subgraphs/treasury/exchanges/kraken-withdrawal.rail';
import { SwyftxWithdrawalRail } from '../../subgraphs/treasury/exchanges/swyftx-withdrawal.rail';
import { writeTreasurySettings } from '../../subgraphs/treasury/settings/treasury-settings';
import { DAY_MS } from '../../subgraphs/treasury/withdrawals';
import { WithdrawalExecutor, WithdrawalRetryLater } from '../../subgraphs/treasury/withdrawals/executor';
import { WithdrawalService } from '../../subgraphs/treasury/withdrawals/service';
import { exchangeDestinationRef } from '../../subgraphs/treasury/withdrawals/withdrawal-id';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { spawnProcess } from '../helpers/process';
import { startFakeKrakenFunding, type FakeKrakenFunding } from '../fakes/withdrawal-kraken.server';
import { startFakeSwyftxFunding, type FakeSwyftxFunding } from '../fakes/withdrawal-swyftx.server';

// BIP 84's account zpub and its first receive addresses (the BIP's vectors).
const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';
const ADDR_0 = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu';
const STATIC = 'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g';

/**
 * The Kraken and Swyftx withdrawal rails through the executor, on real PostgreSQL, against local
 * fakes that authenticate like the exchanges: each reaches CONFIRMED with one exchange withdrawal,
 * and a lost answer (the worker gone between the exchange accepting and our write) is found by the
 * stored key/address/amount on retry instead of being sent again.
 */
describe('withdrawal rails: Kraken and Swyftx (real PostgreSQL, local fakes)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  let kraken: FakeKrakenFunding;
  let swyftx: FakeSwyftxFunding;
  const bus = new InProcessBus();
  const start = new Date('2026-12-01T00:00:00.000Z');
  let clock = start;
  const service = new WithdrawalService({ now: () => clock });
  const alice = randomUUID();
  const bob = randomUUID();

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const member = (tenantId: string, userId: string, role: Role): Scope => ({
    userId,
    tenantId,
    role,
    actor: 'user',
    amr: ['pwd', 'otp'],
    tx: (fn, opts) => tenants.run(tenantId, fn, opts),
    read: (fn) => tenants.run(tenantId, fn),
  });

  /** A tenant on `exchange` holding 0.05 BTC there, with a usable destination and one approved withdrawal of `sats`. */
  async function approvedWithdrawal(exchange: 'kraken' | 'swyftx', kind: 'XPUB' | 'ADDRESS', sats: string) {
    const tenantId = randomUUID();
    clock = start;
    await sql(`insert into public.tenant (id, name) values (?, 'Rail Pty Ltd')`, [tenantId]);
    await tenants.run(tenantId, async ({ em }) => {
      await em.execute(`insert into holding (exchange, sats) values (?, 5000000)`, [exchange]);
      // A real exchange: the tenant passed KYB (#11), as treasury's copy of compliance's decision records it.
      await em.execute(`insert into treasury_kyb_status (status, seq, changed_at) values ('VERIFIED', 1, now())`);
      await writeTreasurySettings(em, { primaryExchange: exchange, failoverExchanges: [], cutoffLocalTime: '17:00' });
    });
    const d = await service.addDestination(member(tenantId, alice, 'OWNER'), kind === 'XPUB' ? { xpub: ZPUB, label: 'Cold' } : { address: STATIC, label: 'Cold' });
    await service.confirmDestination(member(tenantId, bob, 'OWNER'), d.id);
    clock = new Date(start.getTime() + DAY_MS + 1);
    await service.setPolicy(member(tenantId, alice, 'OWNER'), 0n, 1, ['OWNER']);
    const w = await service.request(member(tenantId, alice, 'OWNER'), sats, d.id, `rail-${randomUUID()}`);
    const approved = await service.approve(member(tenantId, bob, 'OWNER'), w.row.id);
    expect(approved.row).toMatchObject({ status: 'APPROVED', rail: exchange });
    return { tenantId, destinationId: d.id, withdrawalId: w.row.id, clientId: w.row.client_id, address: w.row.address };
  }
  const row = async (id: string) =>
    (await sql<{ status: string; rail_ref: string | null; txid: string | null; fee_sats: string | null; attempted_at: Date | null; exchange_key: string | null; escalation: string | null }>(
      `select status, rail_ref, txid, fee_sats::text as fee_sats, attempted_at, exchange_key, escalation from pool.withdrawal where id = ?`,
      [id],
    ))[0];
  const path = async (id: string) =>
    (await sql<{ f: string | null; t: string }>(`select from_status as f, to_status as t from pool.withdrawal_transition where withdrawal_id = ? order by seq`, [id])).map((x) => `${x.f ?? '∅'}→${x.t}`);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
    kraken = await startFakeKrakenFunding({ feeSats: 1500n });
    swyftx = await startFakeSwyftxFunding({ feeSats: 3000n });
  }, 60_000);
  afterAll(async () => {
    await kraken?.close();
    await swyftx?.close();
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  const krakenRail = (settleMs = 0) => new KrakenWithdrawalRail(new KrakenClient({ apiKey: kraken.apiKey, apiSecret: kraken.apiSecret, baseUrl: kraken.url, timeoutMs: 400 }), { settleMs });
  const executorWith = (rails: ConstructorParameters<typeof WithdrawalExecutor>[0]['rails']) => new WithdrawalExecutor({ tenants, rails, pollMs: 1, leaseMs: 1, now: () => clock });

  it('Kraken: Withdraw to the key named after the withdrawal (derived address), signed like Kraken; WithdrawStatus drives it to CONFIRMED with the fee', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '1000000');
    expect(w.address).toBe(ADDR_0);
    kraken.addKey(w.clientId, w.address);
    const before = kraken.withdrawals().length;
    expect(await executorWith({ kraken: krakenRail() }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    const sent = kraken.withdrawals().slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ key: w.clientId, address: ADDR_0, grossSats: 1000000n, status: 'Success' });
    const confirmed = await row(w.withdrawalId);
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', rail_ref: sent[0]?.refid, fee_sats: '1500', exchange_key: w.clientId });
    expect(confirmed?.txid).toMatch(/^[0-9a-f]{64}$/);
    expect(await path(w.withdrawalId)).toEqual(['∅→REQUESTED', 'REQUESTED→APPROVED', 'APPROVED→SUBMITTED', 'SUBMITTED→BROADCAST', 'BROADCAST→CONFIRMED']);
    expect(kraken.rejectedAuth()).toBe(0);
  });

  it('Kraken: a wrong API secret is refused by the fake (AUTH) and nothing is sent', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '200000');
    kraken.addKey(w.clientId, w.address);
    const before = kraken.withdrawals().length;
    const bad = new KrakenWithdrawalRail(new KrakenClient({ apiKey: kraken.apiKey, apiSecret: Buffer.from('not the secret').toString('base64'), baseUrl: kraken.url, timeoutMs: 400, nonce: () => String(Date.now() * 1000 + 999) }));
    await expect(executorWith({ kraken: bad }).execute(w.tenantId, w.withdrawalId)).rejects.toMatchObject({ kind: 'AUTH' });
    expect(kraken.withdrawals().length).toBe(before);
    expect(kraken.rejectedAuth()).toBeGreaterThan(0);
  });

  it('Kraken: the answer is lost after Kraken accepted; the retry looks up WithdrawStatus by our key and adopts it, never sending twice', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '700000');
    kraken.addKey(w.clientId, w.address);
    const before = kraken.withdrawals().length;
    kraken.swallowWithdrawResponses(true);
    await expect(executorWith({ kraken: krakenRail() }).execute(w.tenantId, w.withdrawalId)).rejects.toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: true });
    kraken.swallowWithdrawResponses(false);
    expect(kraken.withdrawals().length).toBe(before + 1);
    const mid = await row(w.withdrawalId);
    expect(mid).toMatchObject({ status: 'SUBMITTED', rail_ref: null });
    expect(mid?.attempted_at).not.toBeNull();

    expect(await executorWith({ kraken: krakenRail() }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    expect(kraken.withdrawals().length).toBe(before + 1);
    expect((await row(w.withdrawalId))?.rail_ref).toBe(kraken.withdrawals().at(-1)?.refid);
  });

  it('Kraken: with a lagging listing the retry waits (settleMs) instead of resending, then adopts', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '600000');
    kraken.addKey(w.clientId, w.address);
    const before = kraken.withdrawals().length;
    kraken.swallowWithdrawResponses(true);
    kraken.setListingLagMs(60_000);
    await expect(executorWith({ kraken: krakenRail(5 * 60_000) }).execute(w.tenantId, w.withdrawalId)).rejects.toMatchObject({ outcomeUnknown: true });
    kraken.swallowWithdrawResponses(false);
    // Not listed yet and within settleMs: WAIT, nothing sent.
    await expect(executorWith({ kraken: krakenRail(5 * 60_000) }).execute(w.tenantId, w.withdrawalId)).rejects.toBeInstanceOf(WithdrawalRetryLater);
    expect(kraken.withdrawals().length).toBe(before + 1);
    kraken.setListingLagMs(0);
    expect(await executorWith({ kraken: krakenRail(5 * 60_000) }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    expect(kraken.withdrawals().length).toBe(before + 1);
  });

  it('Kraken: a key that is not set up is refused by Kraken: FAILED with the reason, nothing left the exchange', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '300000');
    const before = kraken.withdrawals().length;
    expect(await executorWith({ kraken: krakenRail() }).execute(w.tenantId, w.withdrawalId)).toBe('FAILED');
    expect(kraken.withdrawals().length).toBe(before);
    expect((await sql<{ failure_reason: string }>(`select failure_reason from pool.withdrawal where id = ?`, [w.withdrawalId]))[0]?.failure_reason).toMatch(/Unknown withdraw key/);
  });

  it('Kraken: the worker process is SIGKILLed right after Kraken accepted the withdrawal; the next worker finds it and the bitcoin is sent exactly once', async () => {
    const w = await approvedWithdrawal('kraken', 'XPUB', '400000');
    kraken.addKey(w.clientId, w.address);
    const before = kraken.withdrawals().length;
    kraken.swallowWithdrawResponses(true);
    const worker = spawnProcess(process.execPath, ['-r', '@swc-node/register', 'test/chaos/withdrawal-worker.entry.ts'], {
      ...process.env,
      APP_DB_URL: db.appUrl,
      TENANT_ID: w.tenantId,
      WITHDRAWAL_ID: w.withdrawalId,
      KRAKEN_URL: kraken.url,
      KRAKEN_KEY: kraken.apiKey,
      KRAKEN_SECRET: kraken.apiSecret,
    });
    // Killed the moment Kraken executes the withdrawal, before any answer: nothing of the exchange's reply is stored.
    const stop = kraken.onWithdraw(() => worker.kill());
    const exit = await worker.exited;
    stop();
    kraken.swallowWithdrawResponses(false);
    expect(exit.signal).toBe('SIGKILL');
    expect(kraken.withdrawals().length).toBe(before + 1);
    expect(await row(w.withdrawalId)).toMatchObject({ status: 'SUBMITTED', rail_ref: null });

    // The next worker (after the dead one's lease lapsed) looks WithdrawStatus up by our key: adopts, never resends.
    await new Promise((r) => setTimeout(r, 1100));
    clock = new Date();
    expect(await executorWith({ kraken: krakenRail() }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    expect(kraken.withdrawals().length).toBe(before + 1);
  }, 60_000);

  const swyftxRail = () => new SwyftxWithdrawalRail({ apiKey: swyftx.apiKey, baseUrl: swyftx.url, timeoutMs: 400, settleMs: 0 });

  it('Swyftx: a static destination saved at Swyftx under its reference; Bearer-authenticated withdraw and history reach CONFIRMED', async () => {
    const w = await approvedWithdrawal('swyftx', 'ADDRESS', '800000');
    swyftx.addAddress(exchangeDestinationRef(w.destinationId), STATIC);
    const before = swyftx.withdrawals().length;
    expect(await executorWith({ swyftx: swyftxRail() }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    const sent = swyftx.withdrawals().slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ address: STATIC, sats: 800000n, status: 'COMPLETED' });
    expect(await row(w.withdrawalId)).toMatchObject({ status: 'CONFIRMED', rail_ref: sent[0]?.id, fee_sats: '3000', exchange_key: exchangeDestinationRef(w.destinationId) });
    expect(swyftx.tokensIssued()).toBeGreaterThan(0);
    expect(swyftx.unauthorised()).toBe(0);
  });

  it('Swyftx: the connection is cut after Swyftx accepted; the retry finds it by address, amount and time, and sends nothing more', async () => {
    const w = await approvedWithdrawal('swyftx', 'ADDRESS', '900000');
    swyftx.addAddress(exchangeDestinationRef(w.destinationId), STATIC);
    const before = swyftx.withdrawals().length;
    swyftx.dropAfterWithdraw(true);
    await expect(executorWith({ swyftx: swyftxRail() }).execute(w.tenantId, w.withdrawalId)).rejects.toMatchObject({ outcomeUnknown: true });
    swyftx.dropAfterWithdraw(false);
    expect(swyftx.withdrawals().length).toBe(before + 1);
    expect(await executorWith({ swyftx: swyftxRail() }).execute(w.tenantId, w.withdrawalId)).toBe('CONFIRMED');
    expect(swyftx.withdrawals().length).toBe(before + 1);
  });

  it('Swyftx: no saved address under the destination’s reference: FAILED, nothing sent', async () => {
    const w = await approvedWithdrawal('swyftx', 'ADDRESS', '100000');
    const before = swyftx.withdrawals().length;
    expect(await executorWith({ swyftx: swyftxRail() }).execute(w.tenantId, w.withdrawalId)).toBe('FAILED');
    expect(swyftx.withdrawals().length).toBe(before);
  });
});
