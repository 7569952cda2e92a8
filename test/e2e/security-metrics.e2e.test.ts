import { createHash } from 'node:crypto';
import { gql } from 'graphql-request';
import { createClient } from 'graphql-ws';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { GATEWAY_SIGNATURE_HEADER } from '../../lib/auth/gateway-signature';
import { cacheLookups, securityEvents, subscribers } from '../../lib/metrics';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { present } from '../helpers/present';
import { waitFor } from '../helpers/wait';

/**
 * The metrics the security and gateway alerts (ops/monitoring) read are fed by the code paths they
 * describe: a refused webhook signature, a forged gateway signature at a subgraph, a broken audit
 * chain, APQ hits and misses, connected WebSocket clients. Every role runs in this process, so the
 * registry read here is the one /metrics serves.
 */

const valueOf = async (metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string>): Promise<number> => {
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return found?.value ?? 0;
};
const security = (event: string): Promise<number> => valueOf(securityEvents, { event });
const apq = (outcome: 'hit' | 'miss'): Promise<number> => valueOf(cacheLookups, { cache: 'apq', outcome });
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('security and gateway metrics are wired to what they count (real PostgreSQL)', () => {
  let t: TestPlatform;
  let token: string;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestPlatform();
    const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName: 'Metrics Co', email: 'metrics@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    token = s.signUp.accessToken;
    tenantId = s.signUp.tenant.id;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('counts a webhook whose signature does not verify, and not one that does', async () => {
    const secret = 'whsec_metrics_0123456789abcdef';
    const { connectPaymentIntegration: stripe } = await client(t.gateway, token).request<{ connectPaymentIntegration: { webhookUrl: string } }>(
      gql`mutation ($input: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $input) { webhookUrl } }`,
      { input: { provider: 'STRIPE', name: 'Stripe AU', stripeWebhookSecret: secret } },
    );
    const body = JSON.stringify({
      id: 'evt_metrics_1',
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'pi_metrics_1', object: 'payment_intent', amount: 1000, amount_received: 1000, currency: 'aud', status: 'succeeded' } },
    });
    const post = (signedWith: string): Promise<Response> =>
      fetch(stripe.webhookUrl, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: signedWith }) },
      });
    const before = await security('webhook_signature_invalid');
    expect((await post('whsec_wrong_secret_000000000000')).status).toBe(400);
    expect(await security('webhook_signature_invalid')).toBe(before + 1);
    expect((await post(secret)).status).toBe(200);
    expect(await security('webhook_signature_invalid')).toBe(before + 1);
  });

  it('counts a subgraph request carrying a gateway signature that does not verify', async () => {
    const before = await security('gateway_signature_invalid');
    const res = await fetch(present(t.platform.urls.compliance, 'compliance url'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, [GATEWAY_SIGNATURE_HEADER]: 'v1=forged' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.status).toBeLessThan(500);
    expect(await security('gateway_signature_invalid')).toBe(before + 1);
    // Through the gateway the signature verifies: nothing more is counted.
    await client(t.gateway, token).request(gql`{ verifyAuditChain { valid } }`);
    expect(await security('gateway_signature_invalid')).toBe(before + 1);
  });

  it('counts a broken audit chain when verification finds one, and not an intact one', async () => {
    const verify = (): Promise<{ verifyAuditChain: { valid: boolean; reason: string | null } }> =>
      client(t.gateway, token).request(gql`{ verifyAuditChain { valid reason } }`);
    const before = await security('audit_chain_broken');
    await waitFor(async () => (await verify()).verifyAuditChain.valid, 'an intact chain with events');
    expect(await security('audit_chain_broken')).toBe(before);
    // An attacker with database access edits a recorded fact.
    await t.db.owner.em
      .getConnection()
      .execute(`update pool.audit_event set payload = '{"tampered":true}'::jsonb where tenant_id = ? and seq = 1`, [tenantId]);
    expect((await verify()).verifyAuditChain).toEqual({ valid: false, reason: 'HASH_MISMATCH' });
    expect(await security('audit_chain_broken')).toBe(before + 1);
  });

  it('counts APQ misses and hits', async () => {
    const query = '{ btcPrice(currency: AUD) { price } }';
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const post = (payload: object): Promise<Response> =>
      fetch(`${t.gateway}`, { method: 'POST', headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' }, body: JSON.stringify(payload) });
    const [hits, misses] = [await apq('hit'), await apq('miss')];
    await post({ extensions: { persistedQuery } }); // unknown hash: a miss
    expect(await apq('miss')).toBeGreaterThan(misses);
    await post({ query, extensions: { persistedQuery } }); // registers it
    await post({ extensions: { persistedQuery } }); // found: a hit
    expect(await apq('hit')).toBeGreaterThan(hits);
  });

  it('reports connected WebSocket clients, and drops them when they leave', async () => {
    const base = await valueOf(subscribers, {});
    const ws = createClient({ url: t.gateway.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: false });
    try {
      await waitFor(async () => (await valueOf(subscribers, {})) === base + 1, 'one more connected client');
    } finally {
      await ws.dispose();
    }
    await waitFor(async () => (await valueOf(subscribers, {})) === base, 'the client gone from the gauge');
  });
});
