import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kind, parse } from 'graphql';
import { gql } from 'graphql-request';
import { GATEWAY_SIGNATURE_HEADER, signGatewayRequest } from '../../lib/auth/gateway-signature';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

type Body = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
type Reply = { status: number; body: Body; text: string };

const PASSWORD = 'Correct-Horse-42-Battery';
const SUBGRAPHS = ['tenant', 'treasury', 'market-price', 'compliance'] as const;
type Subgraph = (typeof SUBGRAPHS)[number];

/** Entity types each subgraph resolves through `_entities`, read from the SDL the code composes. */
const entityTypes = (name: Subgraph): string[] =>
  parse(readFileSync(join(__dirname, '..', '..', 'schema', 'subgraphs', `${name}.graphql`), 'utf8')).definitions.flatMap((d) =>
    (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) && d.directives?.some((x) => x.name.value === 'key') ? [d.name.value] : [],
  );

describe('subgraphs in production (NODE_ENV=production, real ports): the gateway or authenticated callers only', () => {
  let t: TestPlatform;
  let secret: string;
  type Owner = { token: string; tenantId: string; userId: string; ruleId: string; purchaseId: string; paymentEventId: string; saleId: string };
  let a: Owner;
  let b: Owner;

  const url = (name: Subgraph): string => t.platform.urls[name]!;
  /** A POST straight to a subgraph; `asGateway` signs it as the gateway does (see lib/auth/gateway-signature.ts). */
  async function post(name: Subgraph, query: string, opts: { token?: string; variables?: Record<string, unknown>; asGateway?: boolean | { secret?: string; audience?: string; body?: string } } = {}): Promise<Reply> {
    const body = JSON.stringify({ query, variables: opts.variables ?? {} });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.asGateway) {
      const g = opts.asGateway === true ? {} : opts.asGateway;
      headers[GATEWAY_SIGNATURE_HEADER] = signGatewayRequest(g.secret ?? secret, g.audience ?? name, g.body ?? body);
    }
    const res = await fetch(url(name), { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Body, text };
  }
  const codes = (r: Reply): string[] => (r.body.errors ?? []).map((e) => String(e.extensions?.code));

  const owner = async (label: string): Promise<Owner> => {
    const gw = client(t.gateway);
    const { signUp } = await gw.request<{ signUp: { accessToken: string; user: { id: string }; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } tenant { id } } }`,
      { i: { tenantName: `Prod ${label}`, email: `${label}-${Date.now()}@prod.example`, password: PASSWORD } },
    );
    const authed = client(t.gateway, signUp.accessToken);
    const { createTreasuryRule } = await authed.request<{ createTreasuryRule: { id: string } }>(
      gql`mutation { createTreasuryRule(input: { name: "r", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000, minOrderAudCents: "2500" }) { id } }`,
    );
    const { requestPurchase } = await authed.request<{ requestPurchase: { id: string } }>(
      gql`mutation { requestPurchase(amountAudCents: "2500", idempotencyKey: "prod-test") { id } }`,
    );
    // A stored delivery (as webhook intake writes it) for the PaymentEvent entity of tenant and treasury.
    const paymentEventId = randomUUID();
    await t.db.owner.em.getConnection().execute(
      `insert into pool.payment_event (tenant_id, id, integration_id, provider, provider_event_id, event_type, kind, amount_cents, currency, status, raw)
       values (?, ?, ?, 'stripe', ?, 'payment_intent.succeeded', 'REVENUE', 1000, 'AUD', 'PROCESSED', '{}')`,
      [signUp.tenant.id, paymentEventId, randomUUID(), `evt_${label}`],
    );
    // A sale row as requestSale writes it (the BitcoinSale entity); no holdings are needed to store one.
    const saleId = randomUUID();
    await t.db.owner.em.getConnection().execute(
      `insert into pool.sale (tenant_id, id, status, sats, client_order_id) values (?, ?, 'PENDING', 1000, ?)`,
      [signUp.tenant.id, saleId, saleId],
    );
    return { token: signUp.accessToken, tenantId: signUp.tenant.id, userId: signUp.user.id, ruleId: createTreasuryRule.id, purchaseId: requestPurchase.id, paymentEventId, saleId };
  };

  beforeAll(async () => {
    t = await startTestPlatform({ env: { NODE_ENV: 'production' } });
    secret = at(present(t.platform.services.keys, 'platform keys').gatewaySecrets, 0, 'gateway secrets');
    a = await owner('a');
    b = await owner('b');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves everything through the gateway, which signs its subgraph requests', async () => {
    const res = await client(t.gateway, a.token).request<{ tenant: { id: string }; treasuryRules: { id: string }[]; btcPrice: unknown }>(
      gql`{ tenant { id } treasuryRules { id } btcPrice { source } purchases { id currentValueAud } }`,
    );
    expect(res.tenant.id).toBe(a.tenantId);
    expect(res.treasuryRules.map((r) => r.id)).toEqual([a.ruleId]);
  });

  it('refuses anonymous callers that are not the gateway on every subgraph, _service included', async () => {
    for (const name of SUBGRAPHS) {
      for (const query of ['{ __typename }', '{ _service { sdl } }']) {
        const r = await post(name, query);
        expect([name, query, r.status, codes(r)]).toEqual([name, query, 401, ['UNAUTHENTICATED']]);
      }
    }
  });

  it('answers _service and _entities to the gateway only; an authenticated caller gets FORBIDDEN', async () => {
    for (const name of SUBGRAPHS) {
      const direct = await post(name, '{ _service { sdl } }', { token: a.token });
      expect([name, codes(direct)]).toEqual([name, ['FORBIDDEN']]);
      const entities = await post(name, 'query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }', { token: a.token, variables: { r: [{ __typename: 'Tenant', id: a.tenantId }] } });
      expect([name, codes(entities)]).toEqual([name, ['FORBIDDEN']]);
      const signed = await post(name, '{ _service { sdl } }', { asGateway: true });
      expect([name, typeof (signed.body.data?._service as { sdl?: unknown } | undefined)?.sdl]).toEqual([name, 'string']);
      // Ordinary fields still answer an authenticated caller.
      expect([name, (await post(name, '{ __typename }', { token: a.token })).status]).toEqual([name, 200]);
    }
  });

  it('a signature for another subgraph, another body, or under another secret is no signature', async () => {
    const query = '{ _service { sdl } }';
    const forged = [
      { audience: 'treasury' },
      { body: JSON.stringify({ query: '{ __typename }', variables: {} }) },
      { secret: 'x'.repeat(40) },
    ];
    for (const asGateway of forged) {
      const r = await post('tenant', query, { asGateway });
      expect([JSON.stringify(asGateway), r.status, codes(r)]).toEqual([JSON.stringify(asGateway), 401, ['UNAUTHENTICATED']]);
    }
  });

  it('no introspection on any subgraph (not even for the gateway) and no suggestions anywhere', async () => {
    const typos: Record<Subgraph, string> = {
      tenant: '{ tenan { id } }',
      treasury: '{ treasuryRule { id } treasuryRules { nam } }',
      'market-price': '{ btcPrice(currency: AUX) { pric } }',
      compliance: '{ auditEvent { id } }',
    };
    for (const name of SUBGRAPHS) {
      const intro = await post(name, '{ __schema { types { name } } }', { asGateway: true, token: a.token });
      expect([name, codes(intro)]).toEqual([name, ['GRAPHQL_VALIDATION_FAILED']]);
      for (const opts of [{ token: a.token }, { asGateway: true }]) {
        const r = await post(name, typos[name], opts);
        expect([name, r.body.errors?.length ?? 0]).not.toEqual([name, 0]);
        expect([name, r.text]).not.toEqual([name, expect.stringMatching(/Did you mean/)]);
      }
    }
    const viaGateway = await fetch(t.gateway, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ tenan { id } btcPrice(currency: AUX) { price } }' }) });
    expect(await viaGateway.text()).not.toMatch(/Did you mean/);
  });

  it('every __resolveReference answers only for the caller’s own entity, @requires fields or not', async () => {
    const ids = (o: Owner): Record<string, string> => ({ Tenant: o.tenantId, User: o.userId, TreasuryRule: o.ruleId, BitcoinPurchase: o.purchaseId, PaymentEvent: o.paymentEventId, BitcoinSale: o.saleId });
    // Fields the owning subgraph would send along (@requires): the caller could make them up.
    const extraOf = (o: Owner): Record<string, Record<string, string>> => ({ BitcoinPurchase: { satoshis: '100000000', costAudCents: '1' }, PaymentEvent: { tenantId: o.tenantId } });
    const failures: string[] = [];
    for (const name of SUBGRAPHS) {
      for (const type of entityTypes(name)) {
        if (!(type in ids(a))) {
          failures.push(`${name}: entity ${type} is not covered by this test`);
          continue;
        }
        for (const [whose, owner] of [['own', a], ['other tenant’s', b]] as const) {
          const r = await post(name, 'query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }', {
            token: a.token,
            asGateway: true,
            variables: { r: [{ __typename: type, id: ids(owner)[type], ...extraOf(owner)[type] }] },
          });
          const got = (r.body.data?._entities as unknown[] | undefined) ?? [];
          const resolved = got.length === 1 && got[0] !== null;
          if (codes(r).length) failures.push(`${name}: ${type} (${whose}) errors ${codes(r).join(',')}`);
          if (resolved !== (whose === 'own')) failures.push(`${name}: ${type} (${whose}) ${resolved ? 'resolved' : 'did not resolve'}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
