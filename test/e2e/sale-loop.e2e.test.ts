import { gql } from 'graphql-request';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { until } from '../helpers/wait';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';

const PASSWORD = 'Correct-Horse-42-Battery';
type Session = { accessToken: string; user: { id: string }; tenant: { id: string } };
const SESSION = `accessToken user { id } tenant { id }`;
const SALE = `id status satoshis grossAudCents feeAudCents netAudCents exchange failureReason createdAt updatedAt`;
type Sale = { id: string; status: string; satoshis: string; grossAudCents: string | null; feeAudCents: string | null; netAudCents: string | null; exchange: string | null };
type Live = { saleUpdated: { saleId: string; status: string; previousStatus: string | null; sale: { status: string; netAudCents: string | null } | null } };

/**
 * Issue #10's sales API, through the gateway on Redis and BullMQ: a tenant buys on paper, sells part
 * of it, watches PENDING → SUBMITTED → FILLED live, and reads net = gross − fee; a sale above its
 * holdings is refused, and another tenant cannot see the sale.
 */
describe('selling bitcoin through the gateway (real PostgreSQL, Redis, BullMQ)', () => {
  let t: TestPlatform;
  let ws: Client | null = null;
  const gw = (token?: string) => client(t.gateway, token);
  const signUp = async (name: string, email: string): Promise<Session> =>
    (await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, { i: { tenantName: name, email, password: PASSWORD } })).signUp;

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true, env: { PRICE_TICK_MS: '100' } });
  }, 90_000);
  afterAll(async () => {
    await ws?.dispose();
    await t?.stop();
  });

  it('buy → sell part live over WebSocket → FILLED with net = gross − fee; oversell refused; invisible to another tenant', async () => {
    const owner = await signUp('Sell Side Pty Ltd', 'owner@sell.example');
    const a = gw(owner.accessToken);
    const bought = await a.request<{ requestPurchase: { id: string } }>(gql`mutation { requestPurchase(amountAudCents: "50000", idempotencyKey: "sale-e2e-buy-1") { id } }`);
    const sats = await until('the purchase to fill', async () => {
      const r = await a.request<{ purchase: { status: string; satoshis: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status satoshis } }`, { id: bought.requestPurchase.id });
      if (r.purchase.status !== 'FILLED') throw new Error(`purchase is ${r.purchase.status}`);
      return BigInt(r.purchase.satoshis);
    });
    expect(sats).toBeGreaterThan(1n);

    ws = createClient({ url: t.gateway.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${owner.accessToken}` }, retryAttempts: 0 });
    const seen: Live['saleUpdated'][] = [];
    const errors: unknown[] = [];
    ws.subscribe<Live>(
      { query: 'subscription { saleUpdated { saleId status previousStatus sale { status netAudCents } } }' },
      { next: (v) => void (v.data && seen.push(v.data.saleUpdated)), error: (e) => void errors.push(e), complete: () => undefined },
    );
    await new Promise((r) => setTimeout(r, 1_000));

    const REQUEST = gql`mutation ($s: Satoshis!, $k: String!) { requestSale(satoshis: $s, idempotencyKey: $k) { ${SALE} } }`;
    const half = sats / 2n;
    const s = (await a.request<{ requestSale: Sale }>(REQUEST, { s: half.toString(), k: 'sale-e2e-1' })).requestSale;
    expect(s).toMatchObject({ status: 'PENDING', satoshis: half.toString(), grossAudCents: null, feeAudCents: null, netAudCents: null });
    // The same key and amount: the same sale.
    expect((await a.request<{ requestSale: Sale }>(REQUEST, { s: half.toString(), k: 'sale-e2e-1' })).requestSale.id).toBe(s.id);

    const done = await until('the sale to fill', async () => {
      const r = await a.request<{ sale: Sale }>(gql`query ($id: ID!) { sale(id: $id) { ${SALE} } }`, { id: s.id });
      if (r.sale.status !== 'FILLED') throw new Error(`sale is ${r.sale.status}`);
      return r.sale;
    });
    const gross = BigInt(done.grossAudCents ?? '-1');
    const fee = BigInt(done.feeAudCents ?? '-1');
    expect(gross).toBeGreaterThan(0n);
    expect(fee).toBeGreaterThanOrEqual(0n);
    expect(done.netAudCents).toBe((gross - fee).toString());
    expect(done.exchange).toBe('paper');

    await until('the live events to arrive', () => {
      if (!seen.some((e) => e.saleId === s.id && e.status === 'FILLED')) throw new Error(`FILLED not seen yet: ${JSON.stringify({ seen, errors })}`);
      return Promise.resolve(true);
    });
    expect(errors).toEqual([]);
    expect(seen.filter((e) => e.saleId === s.id).map((e) => `${e.previousStatus ?? '∅'}→${e.status}`)).toEqual(['∅→PENDING', 'PENDING→SUBMITTED', 'SUBMITTED→FILLED']);
    expect(seen.find((e) => e.status === 'FILLED')?.sale).toEqual({ status: 'FILLED', netAudCents: done.netAudCents });

    // More than is left: refused with a typed reason, nothing written.
    const over = await a.request(REQUEST, { s: (sats - half + 1n).toString(), k: 'sale-e2e-2' }).then(
      () => null,
      (e: { response?: { errors?: { extensions?: { code?: string; reason?: string } }[] } }) => e.response?.errors?.[0]?.extensions ?? null,
    );
    expect(over).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INSUFFICIENT_HOLDINGS' });
    expect((await a.request<{ sales: { id: string }[] }>(gql`{ sales { id } }`)).sales.map((x) => x.id)).toEqual([s.id]);

    // Another tenant sees nothing of it.
    const other = gw((await signUp('Other Pty Ltd', 'owner@other-sell.example')).accessToken);
    expect((await other.request<{ sale: Sale | null }>(gql`query ($id: ID!) { sale(id: $id) { id } }`, { id: s.id })).sale).toBeNull();
    expect((await other.request<{ sales: { id: string }[] }>(gql`{ sales { id } }`)).sales).toEqual([]);
    expect(await errorCodes(gw().request(gql`{ sales { id } }`))).toEqual(['UNAUTHENTICATED']);
  }, 120_000);
});
