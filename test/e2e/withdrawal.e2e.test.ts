import { gql } from 'graphql-request';
import { createClient, type Client } from 'graphql-ws';
import { generate } from 'otplib';
import WebSocket from 'ws';
import { until } from '../helpers/wait';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';

const PASSWORD = 'Correct-Horse-42-Battery';
// BIP 84's account zpub and its first receive address (the BIP's test vectors).
const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';
const ADDR_0 = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu';

type Session = { accessToken: string; user: { id: string }; tenant: { id: string } };
const SESSION = `accessToken user { id } tenant { id }`;
const WITHDRAWAL = `id status satoshis requestedAll address derivationIndex approvalsRequired approvals { userId role } txid rail clientId transitions { fromStatus toStatus }`;
type Withdrawal = {
  id: string;
  status: string;
  satoshis: string;
  requestedAll: boolean;
  address: string;
  derivationIndex: number | null;
  approvalsRequired: number;
  approvals: { userId: string; role: string }[];
  txid: string | null;
  rail: string;
  clientId: string;
  transitions: { fromStatus: string | null; toStatus: string }[];
};
type Live = { withdrawalUpdated: { withdrawalId: string; status: string; previousStatus: string | null; withdrawal: { status: string; txid: string | null } | null } };

/**
 * Issue #13's done-when, through the gateway on Redis and BullMQ: a tenant adds an xpub, a second
 * member confirms it, the cooling-off is waited out, and a withdrawal approved by two members reaches
 * CONFIRMED on the paper rail exactly once, shown live on the withdrawalUpdated subscription.
 */
describe('self-custody withdrawal through the gateway (real PostgreSQL, Redis, BullMQ)', () => {
  let t: TestPlatform;
  let owner: Session;
  let bob: string; // ADMIN, MFA session
  let carol: string; // ADMIN, MFA session
  let bobNoMfa: string;
  let ws: Client | null = null;
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const gw = (token?: string) => client(t.gateway, token);

  /** A member invited as `role` who enrols TOTP and signs in again with it: their session without and with the second factor. */
  async function memberWithMfa(email: string, role: string): Promise<{ plain: string; mfa: string }> {
    const inv = await gw(owner.accessToken).request<{ inviteUser: { token: string } }>(gql`mutation ($e: String!, $r: Role!) { inviteUser(email: $e, role: $r) { token } }`, {
      e: email,
      r: role,
    });
    const joined = (
      await gw().request<{ acceptInvite: Session }>(gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { ${SESSION} } }`, {
        t: inv.inviteUser.token,
        p: PASSWORD,
      })
    ).acceptInvite;
    const { enrollMfa } = await gw(joined.accessToken).request<{ enrollMfa: { secret: string } }>(gql`mutation { enrollMfa { secret } }`);
    await gw(joined.accessToken).request(gql`mutation ($c: String!) { confirmMfa(code: $c) { recoveryCodes } }`, { c: await generate({ secret: enrollMfa.secret }) });
    const step1 = await gw().request<{ login: { mfaChallenge: string } }>(gql`mutation ($i: LoginInput!) { login(input: $i) { mfaChallenge } }`, {
      i: { email, password: PASSWORD, tenantId: owner.tenant.id },
    });
    // The next 30-second step: never the code confirmMfa just used.
    const code = await generate({ secret: enrollMfa.secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const done = await gw().request<{ verifyMfa: Session }>(gql`mutation ($c: String!, $code: String!) { verifyMfa(challenge: $c, code: $code) { ${SESSION} } }`, {
      c: step1.login.mfaChallenge,
      code,
    });
    return { plain: joined.accessToken, mfa: done.verifyMfa.accessToken };
  }

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true, env: { PRICE_TICK_MS: '100' } });
    owner = (
      await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
        i: { tenantName: 'Cold Storage Pty Ltd', email: 'owner@withdraw.example', password: PASSWORD },
      })
    ).signUp;
    const b = await memberWithMfa('bob@withdraw.example', 'ADMIN');
    bob = b.mfa;
    bobNoMfa = b.plain;
    carol = (await memberWithMfa('carol@withdraw.example', 'ADMIN')).mfa;
  }, 90_000);
  afterAll(async () => {
    await ws?.dispose();
    await t?.stop();
  });

  it('xpub → second-member confirmation → cooling-off waited out → two approvals → CONFIRMED on paper exactly once, live over WebSocket', async () => {
    const a = gw(owner.accessToken);
    // Bitcoin to withdraw: a manual purchase on the paper exchange.
    const bought = await a.request<{ requestPurchase: { id: string } }>(gql`mutation { requestPurchase(amountAudCents: "50000", idempotencyKey: "withdraw-e2e-buy-1") { id } }`);
    const sats = await until('the purchase to fill', async () => {
      const r = await a.request<{ purchase: { status: string; satoshis: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status satoshis } }`, { id: bought.requestPurchase.id });
      if (r.purchase.status !== 'FILLED') throw new Error(`purchase is ${r.purchase.status}`);
      return r.purchase.satoshis;
    });
    expect(BigInt(sats)).toBeGreaterThan(0n);

    // The owner adds an xpub; only another member, signed in with a second factor, may confirm it.
    const added = await a.request<{ addWithdrawalDestination: { id: string; kind: string; status: string; usable: boolean; nextDerivationIndex: number } }>(
      gql`mutation ($x: String!) { addWithdrawalDestination(xpub: $x, label: "Treasury cold wallet") { id kind status usable nextDerivationIndex } }`,
      { x: ZPUB },
    );
    const dest = added.addWithdrawalDestination;
    expect(dest).toMatchObject({ kind: 'XPUB', status: 'PENDING_CONFIRMATION', usable: false, nextDerivationIndex: 0 });
    const CONFIRM = gql`mutation ($id: ID!) { confirmWithdrawalDestination(id: $id) { status usable coolingOffEndsAt } }`;
    expect(await errorCodes(a.request(CONFIRM, { id: dest.id }))).toEqual(['FORBIDDEN']);
    expect(await errorCodes(gw(bobNoMfa).request(CONFIRM, { id: dest.id }))).toEqual(['MFA_REQUIRED']);
    const confirmed = await gw(bob).request<{ confirmWithdrawalDestination: { status: string; usable: boolean } }>(CONFIRM, { id: dest.id });
    expect(confirmed.confirmWithdrawalDestination).toMatchObject({ status: 'CONFIRMED', usable: false });

    const REQUEST = gql`mutation ($d: ID!, $k: String!) { requestWithdrawal(satoshis: "ALL", destinationId: $d, idempotencyKey: $k) { ${WITHDRAWAL} } }`;
    // Still cooling off: refused, and nothing was written.
    expect(await errorCodes(a.request(REQUEST, { d: dest.id, k: 'withdraw-e2e-early' }))).toEqual(['CONFLICT']);
    expect(await sql(`select id from pool.withdrawal where tenant_id = ?`, [owner.tenant.id])).toEqual([]);

    // 24 hours pass: the destination's clock is moved back a day and an hour.
    await sql(
      `update pool.withdrawal_destination set created_at = created_at - interval '25 hours', changed_at = changed_at - interval '25 hours',
         confirmed_at = confirmed_at - interval '25 hours', cooling_off_ends_at = cooling_off_ends_at - interval '25 hours' where id = ?`,
      [dest.id],
    );
    const listed = await a.request<{ withdrawalDestinations: { id: string; usable: boolean }[] }>(gql`{ withdrawalDestinations { id usable } }`);
    expect(listed.withdrawalDestinations).toEqual([{ id: dest.id, usable: true }]);

    await a.request(gql`mutation { setWithdrawalPolicy(thresholdAudCents: "0", approvalsRequired: 2, roles: ["OWNER", "ADMIN"]) { tiers { approvalsRequired } } }`);

    // Live: the owner watches every withdrawal of the tenant over WebSocket.
    ws = createClient({ url: t.gateway.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${owner.accessToken}` }, retryAttempts: 0 });
    const seen: Live['withdrawalUpdated'][] = [];
    const errors: unknown[] = [];
    ws.subscribe<Live>(
      { query: 'subscription { withdrawalUpdated { withdrawalId status previousStatus withdrawal { status txid } } }' },
      { next: (v) => void (v.data && seen.push(v.data.withdrawalUpdated)), error: (e) => void errors.push(e), complete: () => undefined },
    );
    await new Promise((r) => setTimeout(r, 1_000));

    const w = (await a.request<{ requestWithdrawal: Withdrawal }>(REQUEST, { d: dest.id, k: 'withdraw-e2e-1' })).requestWithdrawal;
    expect(w).toMatchObject({ status: 'REQUESTED', satoshis: sats, requestedAll: true, address: ADDR_0, derivationIndex: 0, approvalsRequired: 2, rail: 'paper' });
    const APPROVE = gql`mutation ($id: ID!) { approveWithdrawal(id: $id) { ${WITHDRAWAL} } }`;
    // No approval without a second factor (the requester's own is refused as SELF_APPROVAL: withdrawal-service.test.ts).
    expect(await errorCodes(a.request(APPROVE, { id: w.id }))).toEqual(['MFA_REQUIRED']);
    expect(await errorCodes(gw(bobNoMfa).request(APPROVE, { id: w.id }))).toEqual(['MFA_REQUIRED']);
    expect((await gw(bob).request<{ approveWithdrawal: Withdrawal }>(APPROVE, { id: w.id })).approveWithdrawal.status).toBe('REQUESTED');
    expect(await errorCodes(gw(bob).request(APPROVE, { id: w.id }))).toEqual(['CONFLICT']);
    expect((await gw(carol).request<{ approveWithdrawal: Withdrawal }>(APPROVE, { id: w.id })).approveWithdrawal.status).toBe('APPROVED');

    const done = await until('the withdrawal to be confirmed', async () => {
      const r = await a.request<{ withdrawal: Withdrawal }>(gql`query ($id: ID!) { withdrawal(id: $id) { ${WITHDRAWAL} } }`, { id: w.id });
      if (r.withdrawal.status !== 'CONFIRMED') throw new Error(`withdrawal is ${r.withdrawal.status}`);
      return r.withdrawal;
    });
    expect(done.txid).toMatch(/^[0-9a-f]{64}$/);
    expect(done.approvals.map((x) => x.role)).toEqual(['ADMIN', 'ADMIN']);
    // Exactly once: one submission, each state once.
    expect(done.transitions.map((x) => x.toStatus)).toEqual(['REQUESTED', 'APPROVED', 'SUBMITTED', 'BROADCAST', 'CONFIRMED']);

    await until('the live events to arrive', () => {
      if (seen.filter((e) => e.withdrawalId === w.id && e.status === 'CONFIRMED').length === 0) throw new Error(`CONFIRMED not seen yet: ${JSON.stringify({ seen, errors })}`);
      return Promise.resolve(true);
    });
    expect(errors).toEqual([]);
    expect(seen.filter((e) => e.withdrawalId === w.id).map((e) => `${e.previousStatus ?? '∅'}→${e.status}`)).toEqual([
      '∅→REQUESTED',
      'REQUESTED→APPROVED',
      'APPROVED→SUBMITTED',
      'SUBMITTED→BROADCAST',
      'BROADCAST→CONFIRMED',
    ]);
    expect(seen.find((e) => e.status === 'CONFIRMED')?.withdrawal).toEqual({ status: 'CONFIRMED', txid: done.txid });
    // One execution job for it, by its deterministic id.
    expect(await sql(`select job_name from pool.outbox where tenant_id = ? and queue = 'purchases' and id = ?`, [owner.tenant.id, w.id])).toEqual([{ job_name: 'withdrawal' }]);
  }, 90_000);
});
