import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../../../lib/bus';
import { keyRingFromEnv } from '../../../lib/crypto/secret-box';
import { configureLogger } from '../../../lib/logger';
import { PaymentProvider } from './integration.entity';
import { IntegrationService, storableRow } from './integration.service';
import type { IntakeRow } from './webhook-intake';

// webhookUrl and storableRow touch neither the database nor the bus.
const service = (publicWebhookBaseUrl?: string): IntegrationService =>
  new IntegrationService({} as MikroORM, {} as EventBus, keyRingFromEnv(`k:${Buffer.alloc(32, 1).toString('base64')}`), {
    publicWebhookBaseUrl,
    paypalApiBaseUrl: 'https://api-m.sandbox.paypal.com',
  });
const integration = { provider: PaymentProvider.SQUARE, id: '0b7e4a4e-0000-4000-8000-000000000001' };

describe('IntegrationService.webhookUrl', () => {
  beforeAll(() => configureLogger('silent'));

  it('is PUBLIC_WEBHOOK_BASE_URL when set, whatever listens', () => {
    const s = service('https://hooks.example.com/');
    s.setDefaultWebhookBaseUrl('http://127.0.0.1:4001', 'tenant');
    s.setDefaultWebhookBaseUrl('http://127.0.0.1:4000', 'gateway');
    expect(s.webhookUrl(integration)).toBe(`https://hooks.example.com/webhooks/square/${integration.id}`);
  });

  it('else the gateway’s address when it runs here, else the tenant subgraph’s', () => {
    const s = service();
    s.setDefaultWebhookBaseUrl('http://127.0.0.1:4001', 'tenant');
    expect(s.webhookUrl(integration)).toBe(`http://127.0.0.1:4001/webhooks/square/${integration.id}`);
    s.setDefaultWebhookBaseUrl('http://127.0.0.1:4000', 'gateway');
    expect(s.webhookUrl(integration)).toBe(`http://127.0.0.1:4000/webhooks/square/${integration.id}`);
  });

  it('never hands out a wildcard bind address', () => {
    const s = service();
    s.setDefaultWebhookBaseUrl('http://0.0.0.0:4000', 'gateway');
    expect(s.webhookUrl(integration)).toBe(`http://127.0.0.1:4000/webhooks/square/${integration.id}`);
  });
});

describe('storableRow', () => {
  const row: IntakeRow = {
    id: 'r1',
    integrationId: 'i1',
    provider: 'stripe',
    providerEventId: 'evt_1',
    eventType: 'payment_intent.succeeded',
    kind: 'REVENUE',
    amountCents: '100',
    currency: 'AUD',
    providerObjectId: 'pi_1',
    relatedPaymentId: null,
    occurredAt: null,
    status: 'RECEIVED',
    statusReason: null,
    raw: { id: 'evt_1', note: 'plain 😀' },
    rawBody: null,
  };

  it('returns the row itself when the delivery has nothing PostgreSQL cannot store', () => {
    expect(storableRow(row, { rawBody: Buffer.from(JSON.stringify(row.raw)), headers: {} })).toBe(row);
    // An escaped surrogate pair is fine too: it is checked, and nothing changes.
    const pair = '{"id":"evt_1","note":"plain \\ud83d\\ude00"}';
    expect(storableRow(row, { rawBody: Buffer.from(pair), headers: {} })).toBe(row);
  });

  it('replaces U+0000 in every column and keeps the exact bytes', () => {
    const text = '{"id":"evt\\u00001","note":"a\\u0000"}';
    const out = storableRow({ ...row, providerEventId: 'evt\u00001', raw: JSON.parse(text) as unknown }, { rawBody: Buffer.from(text), headers: {} });
    expect(out).toMatchObject({ providerEventId: 'evt\ufffd1', raw: { id: 'evt\ufffd1', note: 'a\ufffd' } });
    expect(out.rawBody?.toString('utf8')).toBe(text);
  });
});
