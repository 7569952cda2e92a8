import { randomUUID } from 'node:crypto';
import { configureLogger } from '../logger';
import { CATALOG, decode, decodeVerbose, priceChannel, tenantChannel, tenantOfChannel, type BusEvent, type EventOn } from './catalog';

beforeAll(() => configureLogger('silent'));

const t = randomUUID();
const at = '2026-11-25T10:00:00.000Z';
const samples: [channel: string, event: BusEvent][] = [
  ['price.btc.aud', { __typename: 'BtcPrice', version: 1, currency: 'AUD', price: '150000.12', source: 'KRAKEN+BTC_MARKETS', sources: ['KRAKEN', 'BTC_MARKETS'], at }],
  ['price.btc.usd', { __typename: 'BtcPrice', version: 1, currency: 'USD', price: '97500.5', source: 'KRAKEN', at }],
  [tenantChannel(t, 'purchase'), { __typename: 'PurchaseUpdated', version: 1, tenantId: t, purchaseId: randomUUID(), status: 'SUBMITTED', previousStatus: 'PENDING', at }],
  [tenantChannel(t, 'purchase'), { __typename: 'PurchaseUpdated', version: 1, purchaseId: randomUUID(), status: 'PENDING', previousStatus: null, at }],
  [tenantChannel(t, 'rule'), { __typename: 'TreasuryRuleChanged', version: 1, id: randomUUID(), change: 'LIMIT_REACHED', ruleVersion: 3 }],
  ['outbox.kick', { __typename: 'OutboxKick', version: 1 }],
  ['platform.tenant-schema', { __typename: 'TenantSchemaChanged', version: 1, tenantId: t, schema: `tenant_${t.replace(/-/g, '_')}` }],
  [
    'platform.compliance.alert',
    { __typename: 'ComplianceAlertRaised', version: 1, id: randomUUID(), tenantId: t, kind: 'THRESHOLD', severity: 'MEDIUM', summary: 'revenue of A$10,000.00', caseId: randomUUID(), raisedAt: at, dueAt: null },
  ],
];

describe('event catalog', () => {
  it.each(samples)('decodes what the platform publishes on %s, unchanged', (channel, event) => {
    expect(decode(channel, JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('ignores fields it does not know (adding an optional field is not a new version)', () => {
    const [channel, event] = samples[0] ?? ['', null];
    expect(decode(channel, { ...event, extra: 'later' })).toEqual(event);
  });

  it.each([
    ['unknown_channel', 'price.eth.aud', samples[0]?.[1]],
    ['unknown_channel', `tenant.${t}.alert`, { __typename: 'Alert', version: 1 }],
    // Compliance alerts never travel on a tenant's channel (tipping off, s123).
    ['unknown_channel', `tenant.${t}.alert`, { __typename: 'ComplianceAlertRaised', version: 1 }],
    ['not_an_event', 'outbox.kick', 'kick'],
    ['not_an_event', 'outbox.kick', [1]],
    ['unknown_type', 'outbox.kick', { __typename: 'Kick', version: 1 }],
    ['malformed', 'outbox.kick', { __typename: 'OutboxKick', version: 2 }],
    ['malformed', 'price.btc.aud', { ...samples[0]?.[1], price: 150000.12 }],
    ['malformed', 'price.btc.aud', { ...samples[0]?.[1], price: '1.5e5' }],
    ['malformed', 'price.btc.aud', { ...samples[0]?.[1], at: 'yesterday' }],
    ['malformed', tenantChannel(t, 'purchase'), { ...samples[2]?.[1], status: 'DONE' }],
    ['malformed', 'platform.tenant-schema', { __typename: 'TenantSchemaChanged', version: 1, tenantId: t, schema: 'public; drop table x' }],
    ['channel_mismatch', 'price.btc.usd', samples[0]?.[1]],
    ['channel_mismatch', tenantChannel(randomUUID(), 'purchase'), samples[2]?.[1]],
  ])('refuses (%s) %s', (reason, channel, value) => {
    expect(decodeVerbose(channel, value)).toMatchObject({ reason });
    expect(decode(channel, value)).toBeNull();
  });

  it('names the failing paths, never the values', () => {
    const r = decodeVerbose('price.btc.aud', { ...samples[0]?.[1], price: 'SECRET-ish', at: 'x' });
    expect(r).toMatchObject({ reason: 'malformed' });
    expect(JSON.stringify(r)).not.toContain('SECRET-ish');
    expect('issues' in r ? r.issues?.map((i) => i.split(':')[0]) : []).toEqual(['price', 'at']);
  });

  it('knows each channel once, and helpers build channels the catalog accepts', () => {
    for (const [channel] of samples) expect(CATALOG.filter((e) => e.match.test(channel))).toHaveLength(1);
    expect(priceChannel('AUD')).toBe('price.btc.aud');
    expect(tenantOfChannel(tenantChannel(t.toUpperCase(), 'rule'))).toBe(t);
    expect(tenantOfChannel('price.btc.aud')).toBeUndefined();
  });

  it('types publish by channel', () => {
    // Compile-time contract (tsc): a channel's event type, `never` for a channel outside the catalog.
    const price: EventOn<'price.btc.aud'>['__typename'] = 'BtcPrice';
    const rule: EventOn<`tenant.${string}.rule`>['__typename'] = 'TreasuryRuleChanged';
    const unknown: [EventOn<'tenant.x.alert'>] extends [never] ? true : false = true;
    expect([price, rule, unknown]).toEqual(['BtcPrice', 'TreasuryRuleChanged', true]);
  });
});
