import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  Kind,
  isNonNullType,
  isScalarType,
  parse,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { PERMISSIONS, scopesAllow, type Action } from '../../lib/access';
import { API_KEY_SCOPES } from '../../lib/auth/api-keys';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

/**
 * Every Query and Mutation field of the composed API × every caller (each role, an API key with
 * every scope, anonymous), aimed at another tenant's objects. The gate must answer as the matrix
 * says, and nothing of the other tenant may change. A field missing from FIELDS fails the suite:
 * classify it there.
 */

type Caller = 'OWNER' | 'ADMIN' | 'USER' | 'VIEWER' | 'apiKey' | 'anonymous';
const CALLERS: Caller[] = ['OWNER', 'ADMIN', 'USER', 'VIEWER', 'apiKey', 'anonymous'];

type Rule =
  /** Open to anyone (sign-up, login, public prices…): never FORBIDDEN or UNAUTHENTICATED-by-gate. */
  | { public: true; args?: Record<string, unknown> }
  /** Gated by a matrix action. `self`: any signed-in user, never an API key (acts on the caller). */
  | { action: Action | 'self'; args?: Record<string, unknown>; endsSession?: boolean }
  /** The platform's compliance officer only (a platform role, no tenant role or API key has it): FORBIDDEN to every tenant caller. */
  | { officer: true; args?: Record<string, unknown> };

/** Fill-ins: `$foreign.<name>` is replaced by the other tenant's id of that kind. */
const FIELDS: Record<string, Rule> = {
  // tenant subgraph
  'Query.me': { action: 'user:read-self' },
  'Query.tenant': { action: 'tenant:read' },
  'Query.members': { action: 'member:read' },
  'Query.invitations': { action: 'invitation:read' },
  'Query.myTenants': { action: 'user:read-self' },
  'Query.apiKeys': { action: 'apikey:read' },
  'Query.paymentIntegrations': { action: 'integration:read' },
  'Query.paymentEvents': { action: 'integration:read' },
  'Mutation.signUp': { public: true, args: { input: { tenantName: 'Matrix Signup', email: 'not-an-email', password: 'x' } } },
  // An unknown email: failed logins of the other tenant's users are (rightly) audited in their tenant.
  'Mutation.login': { public: true, args: { input: { email: 'nobody@matrix.example', password: 'Wrong-Password-1!' } } },
  'Mutation.verifyMfa': { public: true },
  'Mutation.refreshSession': { public: true },
  'Mutation.logout': { public: true },
  'Mutation.acceptInvite': { public: true },
  'Mutation.logoutEverywhere': { action: 'user:read-self', endsSession: true },
  'Mutation.switchTenant': { action: 'user:read-self', args: { tenantId: '$foreign.tenant' } },
  'Mutation.inviteUser': { action: 'user:manage', args: { role: 'VIEWER', email: 'matrix-invitee@x.example' } },
  'Mutation.revokeInvitation': { action: 'user:manage', args: { id: '$foreign.invitation' } },
  'Mutation.changeMemberRole': { action: 'user:manage', args: { role: 'VIEWER', userId: '$foreign.user' } },
  'Mutation.removeMember': { action: 'user:manage', args: { userId: '$foreign.user' } },
  'Mutation.transferOwnership': { action: 'owner:manage', args: { userId: '$foreign.user' } },
  'Mutation.setRequireMfaForAdmins': { action: 'tenant:security', args: { enabled: false } },
  'Mutation.enrollMfa': { action: 'self' },
  'Mutation.confirmMfa': { action: 'self' },
  'Mutation.disableMfa': { action: 'self' },
  'Mutation.createApiKey': { action: 'apikey:manage', args: { input: { name: 'matrix', scopes: ['bogus:scope'] } } },
  'Mutation.revokeApiKey': { action: 'apikey:manage', args: { id: '$foreign.apiKey' } },
  'Mutation.connectPaymentIntegration': { action: 'integration:write', args: { input: { provider: 'STRIPE', name: '' } } },
  'Mutation.disconnectPaymentIntegration': { action: 'integration:write', args: { id: '$foreign.integration' } },
  // Payment OAuth (#12): not configured in this run, so refused after the gate and nothing is written.
  'Mutation.startPaymentOAuth': { action: 'integration:write', args: { provider: 'SQUARE' } },
  // tenant: notifications (#12), the signed-in member's own choices (never an API key)
  'Query.notificationPreferences': { action: 'self' },
  // tenant: outbound webhooks (#12); ids of the other tenant's objects find nothing, a bad URL writes nothing
  'Query.webhookEndpoints': { action: 'webhook:manage' },
  'Query.webhookDeliveries': { action: 'webhook:manage', args: { endpointId: '$foreign.purchase' } },
  'Mutation.createWebhookEndpoint': { action: 'webhook:manage', args: { input: { url: 'not-a-url', eventTypes: [] } } },
  'Mutation.setWebhookEndpointEnabled': { action: 'webhook:manage', args: { id: '$foreign.purchase', enabled: false } },
  'Mutation.deleteWebhookEndpoint': { action: 'webhook:manage', args: { id: '$foreign.purchase' } },
  'Mutation.rotateWebhookEndpointSecret': { action: 'webhook:manage', args: { id: '$foreign.purchase' } },
  'Mutation.replayWebhookDelivery': { action: 'webhook:manage', args: { id: '$foreign.purchase' } },
  'Mutation.setNotificationPreference': { action: 'self', args: { type: 'PURCHASE_FILLED', email: true } },
  'Query.notificationSmsNumber': { action: 'self' },
  'Mutation.setNotificationSmsNumber': { action: 'self', args: { number: null } },
  // treasury subgraph
  'Query.treasuryRules': { action: 'rule:read' },
  'Query.treasuryRule': { action: 'rule:read', args: { id: '$foreign.rule' } },
  'Query.treasurySettings': { action: 'rule:read' },
  'Query.purchases': { action: 'purchase:read' },
  'Query.purchase': { action: 'purchase:read', args: { id: '$foreign.purchase' } },
  'Query.holdings': { action: 'purchase:read' },
  'Mutation.createTreasuryRule': { action: 'rule:write', args: { input: { name: '', type: 'PERCENTAGE_OF_REVENUE' } } },
  'Mutation.updateTreasuryRule': { action: 'rule:write', args: { id: '$foreign.rule', patch: {} } },
  'Mutation.enableTreasuryRule': { action: 'rule:write', args: { id: '$foreign.rule' } },
  'Mutation.disableTreasuryRule': { action: 'rule:write', args: { id: '$foreign.rule' } },
  'Mutation.deleteTreasuryRule': { action: 'rule:write', args: { id: '$foreign.rule' } },
  'Mutation.updateTreasurySettings': { action: 'rule:write', args: { patch: {} } },
  'Mutation.requestPurchase': { action: 'purchase:request', args: { amountAudCents: '-1', idempotencyKey: 'matrix' } },
  'Mutation.cancelPurchase': { action: 'purchase:request', args: { id: '$foreign.purchase' } },
  // sales (#10): reads as purchases; a zero-sat sale is refused after the gate, so nothing is written
  'Query.sales': { action: 'purchase:read' },
  'Query.sale': { action: 'purchase:read', args: { id: '$foreign.sale' } },
  'Mutation.requestSale': { action: 'sale:request', args: { satoshis: '0', idempotencyKey: 'matrix-sale' } },
  // withdrawals (#13): bad input or another tenant's id, so nothing is written
  'Query.withdrawalDestinations': { action: 'withdrawal:read' },
  'Query.withdrawalPolicy': { action: 'withdrawal:read' },
  'Query.withdrawals': { action: 'withdrawal:read' },
  'Query.withdrawal': { action: 'withdrawal:read', args: { id: '$foreign.purchase' } },
  'Mutation.addWithdrawalDestination': { action: 'withdrawal:manage', args: { label: 'matrix', address: 'not-an-address' } },
  'Mutation.confirmWithdrawalDestination': { action: 'withdrawal:approve', args: { id: '$foreign.purchase' } },
  'Mutation.setWithdrawalPolicy': { action: 'withdrawal:manage', args: { thresholdAudCents: '0', approvalsRequired: 0, roles: [] } },
  'Mutation.requestWithdrawal': { action: 'withdrawal:manage', args: { satoshis: '0', destinationId: '$foreign.purchase', idempotencyKey: 'matrix-withdrawal' } },
  'Mutation.approveWithdrawal': { action: 'withdrawal:approve', args: { id: '$foreign.purchase' } },
  'Mutation.rejectWithdrawal': { action: 'withdrawal:approve', args: { id: '$foreign.purchase', reason: 'matrix' } },
  'Mutation.cancelWithdrawal': { action: 'withdrawal:manage', args: { id: '$foreign.purchase' } },
  'Mutation.disableWithdrawalDestination': { action: 'withdrawal:manage', args: { id: '$foreign.purchase' } },
  'Mutation.reenableWithdrawalDestination': { action: 'withdrawal:manage', args: { id: '$foreign.purchase' } },
  'Mutation.renameWithdrawalDestination': { action: 'withdrawal:manage', args: { id: '$foreign.purchase', label: 'matrix' } },
  'Query.autoWithdrawPolicy': { action: 'withdrawal:read' },
  'Mutation.setAutoWithdrawPolicy': {
    action: 'withdrawal:approve',
    args: { enabled: true, destinationId: '$foreign.purchase', thresholdSats: '-1', keepSats: '0', maxFeeShareBps: 100, feeSatPerKvB: '1000' },
  },
  // compliance subgraph
  'Query.auditEvents': { action: 'audit:read' },
  'Query.verifyAuditChain': { action: 'audit:verify' },
  // compliance: the tax ledger (#10); mutation args chosen to be refused after the gate, so nothing is written
  'Query.taxProfile': { action: 'tax:read' },
  'Query.parcels': { action: 'tax:read' },
  'Query.capitalGainsReport': { action: 'tax:read', args: { financialYear: '2024-25' } },
  'Query.taxDisposals': { action: 'tax:read' },
  'Mutation.setTaxProfile': { action: 'tax:write', args: { entityType: 'COMPANY', gstRegistered: false, timeZone: 'Not/AZone' } },
  'Mutation.importTaxHistory': { action: 'tax:write', args: { csv: '' } },
  'Mutation.adjustCostBase': { action: 'tax:write', args: { parcelId: '$foreign.purchase', costAudCents: '1', reason: 'matrix' } },
  'Mutation.recordDisposal': { action: 'tax:write', args: { type: 'SPEND', sats: '1', marketValueAudCents: '1', at: '2025-01-01T00:00:00Z' } },
  'Mutation.changeDisposalIdentification': { action: 'tax:write', args: { disposalId: 'matrix-none', identification: { method: 'FIFO' } } },
  'Mutation.closeFinancialYear': { action: 'tax:write', args: { financialYear: 'matrix' } },
  // compliance: tax report files (#10)
  'Query.taxReport': { action: 'tax:read', args: { id: '00000000-0000-4000-8000-000000000000' } },
  'Query.taxReports': { action: 'tax:read' },
  'Mutation.requestTaxReport': { action: 'tax:read', args: { financialYear: 'matrix' } },
  // compliance: monthly statements (#12)
  'Query.monthlyStatements': { action: 'tax:read' },
  // compliance: books (#12); another tenant's ids or bad input, so nothing is written
  'Query.ledgerConnections': { action: 'books:read' },
  'Query.journalPosts': { action: 'books:read' },
  'Query.journalPost': { action: 'books:read', args: { id: '$foreign.purchase' } },
  'Mutation.connectLedger': { action: 'books:manage', args: { provider: 'XERO' } },
  'Mutation.completeLedgerConnection': { action: 'books:manage', args: { callbackUrl: 'not a url' } },
  'Mutation.setAccountMapping': { action: 'books:manage', args: { connectionId: '$foreign.purchase', mapping: { digitalAsset: '', exchangeClearing: '', realisedGain: '', realisedLoss: '', feesExpense: '' } } },
  'Mutation.disconnectLedger': { action: 'books:manage', args: { connectionId: '$foreign.purchase' } },
  'Mutation.retryJournalPost': { action: 'books:manage', args: { id: '$foreign.purchase' } },
  // compliance: AML/CTF (#11); the tenant's own KYB record, and the officer's cross-tenant path
  'Query.kybStatus': { action: 'kyb:read' },
  'Mutation.recordLegalEntity': { action: 'kyb:write', args: { input: { abn: '12345678901', directors: [], beneficialOwners: [] } } },
  'Query.kybReviews': { officer: true },
  'Mutation.decideKyb': { officer: true, args: { tenantId: '$foreign.tenant', status: 'VERIFIED', reason: 'matrix' } },
  'Query.complianceCases': { officer: true },
  'Query.complianceCase': { officer: true, args: { id: '$foreign.purchase' } },
  'Query.smrDraft': { officer: true, args: { caseId: '$foreign.purchase' } },
  'Mutation.assignCase': { officer: true, args: { caseId: '$foreign.purchase' } },
  'Mutation.noteCase': { officer: true, args: { caseId: '$foreign.purchase', note: 'matrix' } },
  'Mutation.escalateCase': { officer: true, args: { caseId: '$foreign.purchase', grounds: [] } },
  'Mutation.closeCase': { officer: true, args: { caseId: '$foreign.purchase', reason: 'matrix' } },
  'Mutation.reportCase': { officer: true, args: { caseId: '$foreign.purchase', austracReference: 'matrix' } },
  'Query.monitoringConfig': { officer: true },
  'Mutation.startComplianceAlertFeed': { officer: true },
  'Query.complianceOfficerActive': { officer: true },
  'Mutation.setMonitoringRule': { officer: true, args: { rule: 'THRESHOLD', settings: { amountAudCents: '1' } } },
  'Mutation.setMonitoringTimeZone': { officer: true, args: { timeZone: 'Australia/Perth' } },
  // market-price subgraph
  'Query.btcPrice': { public: true },
  'Query.priceHistory': { public: true },
};

/** Entity types resolvable through `_entities`, and which id of the other tenant to ask for. `null`: public data. */
const ENTITIES: Record<string, keyof Foreign | null> = {
  Tenant: 'tenant',
  User: 'user',
  TreasuryRule: 'rule',
  BitcoinPurchase: 'purchase',
  BitcoinSale: 'sale',
  PaymentIntegration: 'integration',
  PaymentEvent: 'paymentEvent',
};

type Foreign = {
  tenant: string;
  user: string;
  email: string;
  rule: string;
  purchase: string;
  sale: string;
  integration: string;
  paymentEvent: string;
  invitation: string;
  apiKey: string;
};

const PASSWORD = 'Correct-Horse-42-Battery';
type Result = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

async function post(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Result> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Result;
}

const codes = (r: Result): string[] => (r.errors ?? []).map((e) => String(e.extensions?.code));

/** A plausible value for an input type: required fields only, enums' first value, ids of the other tenant. */
function valueFor(type: GraphQLInputType, name: string, foreign: Foreign): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, name, foreign);
  if (isListType(type)) return [valueFor(type.ofType, name, foreign)];
  if (isEnumType(type)) return at(type.getValues(), 0).value;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = valueFor(f.type, f.name, foreign);
    return out;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'ID':
        return /user/i.test(name) ? foreign.user : /tenant/i.test(name) ? foreign.tenant : foreign.rule;
      case 'Int':
        return 1;
      case 'Float':
        return 1;
      case 'Boolean':
        return false;
      case 'String':
        return /email/i.test(name) ? 'matrix@x.example' : /code/i.test(name) ? '000000' : 'matrix-x';
      default:
        return /date|time|from|to|at$/i.test(name) || /Date/.test(type.name) ? new Date(Date.now() - 3600_000).toISOString() : '1';
    }
  }
  return null;
}

function resolveForeign(v: unknown, foreign: Foreign): unknown {
  if (typeof v === 'string' && v.startsWith('$foreign.')) return foreign[v.slice('$foreign.'.length) as keyof Foreign];
  if (Array.isArray(v)) return v.map((x) => resolveForeign(x, foreign));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveForeign(x, foreign)]));
  return v;
}

function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, rule: Rule, foreign: Foreign): { query: string; variables: Record<string, unknown> } {
  const args = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined);
  const variables: Record<string, unknown> = {};
  for (const a of args) variables[a.name] = rule.args && a.name in rule.args ? resolveForeign(rule.args[a.name], foreign) : valueFor(a.type, a.name, foreign);
  const named = getNamedType(field.type);
  const selection = isScalarType(named) || isEnumType(named) ? '' : ' { __typename }';
  const decl = args.length ? `(${args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ')})` : '';
  const use = args.length ? `(${args.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '';
  return { query: `${kind} Op${decl} { ${field.name}${use}${selection} }`, variables };
}

/** Which subgraph serves each root field (from the supergraph's @join__field). */
function routing(): Map<string, string> {
  const doc = parse(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  const out = new Map<string, string>();
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION || !['Query', 'Mutation'].includes(def.name.value)) continue;
    for (const f of def.fields ?? []) {
      const join = f.directives?.find((d) => d.name.value === 'join__field');
      const graph = join?.arguments?.find((a) => a.name.value === 'graph')?.value;
      if (graph?.kind === Kind.ENUM) out.set(`${def.name.value}.${f.name.value}`, graph.value.toLowerCase().replace(/_/g, '-'));
    }
  }
  return out;
}

describe('the access matrix over every field of the supergraph', () => {
  let t: TestPlatform;
  let schema: GraphQLSchema;
  const tokens: Partial<Record<Caller, string>> = {};
  let foreign: Foreign;
  let ownTenant: string;

  const signUp = async (tenantName: string, email: string): Promise<{ accessToken: string; user: { id: string }; tenant: { id: string } }> => {
    const r = await post(t.gateway, gql`mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } tenant { id } } }`, {
      input: { tenantName, email, password: PASSWORD },
    });
    return (r.data as { signUp: { accessToken: string; user: { id: string }; tenant: { id: string } } }).signUp;
  };
  const must = async <T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> => {
    const r = await post(url, query, variables, token);
    if (r.errors?.length || !r.data) throw new Error(`setup failed: ${JSON.stringify(r.errors)}`);
    return r.data as T;
  };

  /** Everything of the other tenant in every table that has a tenant_id (audit chain excluded: the workers extend it on their own). */
  const snapshot = async (tenantId: string): Promise<Record<string, string>> => {
    const conn = t.db.owner.em.getConnection();
    const tables = await conn.execute<{ s: string; t: string }[]>(
      `select table_schema as s, table_name as t from information_schema.columns
       where column_name = 'tenant_id' and table_schema in ('public', 'pool') and table_name not in ('audit_event', 'audit_head')
       order by 1, 2`,
    );
    const out: Record<string, string> = {};
    for (const { s, t: table } of tables) {
      // Columns only the clock writes (the relay's publish time, a key's last use, the scheduler's daily
      // cut-off, which falls due mid-run when the suite runs after 17:00 in the tenant's zone) are left out.
      const rows = await conn.execute<{ h: string | null }[]>(
        `select md5(string_agg((to_jsonb(x) - 'published_at' - 'last_used_at' - 'last_cutoff_day')::text, ',' order by (to_jsonb(x) - 'published_at' - 'last_used_at' - 'last_cutoff_day')::text)) as h
           from "${s}"."${table}" x where tenant_id = ?`,
        [tenantId],
      );
      out[`${s}.${table}`] = at(rows, 0).h ?? 'empty';
    }
    const events = await conn.execute<{ e: string }[]>(`select payload->>'eventType' as e from pool.outbox where tenant_id = ? order by created_at`, [tenantId]);
    out['outbox events'] = events.map((r) => r.e).join(',');
    const tenantRow = await conn.execute<{ h: string }[]>(`select md5(to_jsonb(x)::text) as h from public.tenant x where id = ?`, [tenantId]);
    out['public.tenant'] = at(tenantRow, 0).h;
    return out;
  };

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true });
    const intro = await must<IntrospectionQuery>(t.gateway, getIntrospectionQuery(), {});
    schema = buildClientSchema(intro);

    // The other tenant, with one of each object to aim at.
    const b = await signUp('Foreign Pty Ltd', 'owner@foreign.example');
    const rule = await must<{ createTreasuryRule: { id: string } }>(
      t.gateway,
      gql`mutation { createTreasuryRule(input: { name: "Theirs", type: PERCENTAGE_OF_REVENUE, percentageBps: 500 }) { id } }`,
      {},
      b.accessToken,
    );
    const integ = await must<{ connectPaymentIntegration: { id: string; webhookUrl: string } }>(
      t.gateway,
      gql`mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "Theirs", stripeWebhookSecret: "whsec_test_0123456789abcdef" }) { id webhookUrl } }`,
      {},
      b.accessToken,
    );
    // A payment event of theirs, delivered as Stripe would.
    const delivery = JSON.stringify({ id: 'evt_matrix_foreign', object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000), data: { object: { id: 'cus_1' } } });
    const hook = await fetch(integ.connectPaymentIntegration.webhookUrl, {
      method: 'POST',
      body: delivery,
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: delivery, secret: 'whsec_test_0123456789abcdef' }) },
    });
    if (hook.status !== 200) throw new Error(`setup failed: webhook answered ${hook.status}`);
    const [firstRow] = await t.db.owner.em
      .getConnection()
      .execute<{ id: string }[]>(`select id from pool.payment_event where provider_event_id = 'evt_matrix_foreign'`);
    const { id: paymentEventId } = present(firstRow, 'the first row');
    const inv = await must<{ inviteUser: { invitation: { id: string } } }>(
      t.gateway,
      gql`mutation { inviteUser(email: "pending@foreign.example", role: USER) { invitation { id } } }`,
      {},
      b.accessToken,
    );
    const key = await must<{ createApiKey: { apiKey: { id: string } } }>(
      t.gateway,
      gql`mutation { createApiKey(input: { name: "Theirs", scopes: ["read:treasury"] }) { apiKey { id } } }`,
      {},
      b.accessToken,
    );
    // A purchase of theirs, when the treasury serves requestPurchase (else a rule id stands in).
    const bought = await post(
      t.gateway,
      gql`mutation { requestPurchase(amountAudCents: "5000", idempotencyKey: "matrix-foreign-1") { id } }`,
      {},
      b.accessToken,
    );
    const purchaseId = (bought.data as { requestPurchase?: { id: string } } | null)?.requestPurchase?.id ?? rule.createTreasuryRule.id;
    // A sale of theirs, stored as requestSale writes it (no holdings needed to store one).
    const saleId = randomUUID();
    await t.db.owner.em.getConnection().execute(`insert into pool.sale (tenant_id, id, status, sats, client_order_id) values (?, ?, 'PENDING', 1000, ?)`, [b.tenant.id, saleId, saleId]);
    foreign = {
      tenant: b.tenant.id,
      purchase: purchaseId,
      sale: saleId,
      user: b.user.id,
      email: 'owner@foreign.example',
      rule: rule.createTreasuryRule.id,
      integration: integ.connectPaymentIntegration.id,
      paymentEvent: paymentEventId,
      invitation: inv.inviteUser.invitation.id,
      apiKey: key.createApiKey.apiKey.id,
    };

    // Our tenant: one session per role, and a key with every scope.
    const a = await signUp('Matrix Pty Ltd', 'owner@matrix.example');
    ownTenant = a.tenant.id;
    tokens.OWNER = a.accessToken;
    for (const role of ['ADMIN', 'USER', 'VIEWER'] as const) {
      const { inviteUser } = await must<{ inviteUser: { token: string } }>(
        t.gateway,
        gql`mutation ($e: String!, $r: Role!) { inviteUser(email: $e, role: $r) { token } }`,
        { e: `${role.toLowerCase()}@matrix.example`, r: role },
        a.accessToken,
      );
      const { acceptInvite } = await must<{ acceptInvite: { accessToken: string } }>(
        t.gateway,
        gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { accessToken } }`,
        { t: inviteUser.token, p: PASSWORD },
      );
      tokens[role] = acceptInvite.accessToken;
    }
    const all = await must<{ createApiKey: { key: string } }>(
      t.gateway,
      gql`mutation ($s: [String!]!) { createApiKey(input: { name: "All scopes", scopes: $s }) { key } }`,
      { s: [...API_KEY_SCOPES] },
      a.accessToken,
    );
    tokens.apiKey = all.createApiKey.key;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('classifies every Query and Mutation field (add new fields to FIELDS in this file)', () => {
    const fields = ['Query', 'Mutation'].flatMap((root) => Object.keys((root === 'Query' ? schema.getQueryType() : schema.getMutationType())?.getFields() ?? {}).map((f) => `${root}.${f}`));
    const unclassified = fields.filter((f) => !(f in FIELDS));
    expect({ unclassified, hint: 'classify these in FIELDS of test/e2e/access-matrix.e2e.test.ts' }).toEqual({ unclassified: [], hint: expect.any(String) });
  });

  it('answers as the matrix says for every field × caller, and never touches the other tenant', async () => {
    // Let the other tenant's own work (its purchase going through the workers) settle first.
    let before = await snapshot(foreign.tenant);
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const again = await snapshot(foreign.tenant);
      if (JSON.stringify(again) === JSON.stringify(before)) break;
      before = again;
    }
    const routes = routing();
    const failures: string[] = [];
    const entries = ['Query', 'Mutation'].flatMap((root) => {
      const type = root === 'Query' ? schema.getQueryType() : schema.getMutationType();
      return Object.values(type?.getFields() ?? {}).map((f) => ({ root, field: f, key: `${root}.${f.name}` }));
    });
    // Fields that end the caller's session run last.
    entries.sort((x, y) => Number(Boolean((FIELDS[x.key] as { endsSession?: boolean })?.endsSession)) - Number(Boolean((FIELDS[y.key] as { endsSession?: boolean })?.endsSession)));
    for (const { root, field, key } of entries) {
      const rule = FIELDS[key];
      if (!rule) continue;
      const op = operationFor(root === 'Query' ? 'query' : 'mutation', field, rule, foreign);
      for (const caller of CALLERS) {
        // API keys go straight to the subgraph that serves the field (the gateway may safelist partner operations).
        const url = caller === 'apiKey' ? present((t.platform.urls as Record<string, string>)[routes.get(key) ?? 'tenant'], `URL of ${routes.get(key) ?? 'tenant'}`) : t.gateway;
        const res = await post(url, op.query, op.variables, tokens[caller]);
        const got = codes(res);
        const value = res.data?.[field.name];
        const say = (what: string): void => void failures.push(`${key} as ${caller}: ${what}; got ${JSON.stringify(got)} ${JSON.stringify(res.errors?.[0]?.message ?? '')}`);
        if (got.includes('INTERNAL_SERVER_ERROR')) say('internal error');
        if ('public' in rule) {
          if (got.includes('FORBIDDEN')) say('public field refused');
          continue;
        }
        const allowed =
          caller === 'anonymous' || 'officer' in rule
            ? false
            : caller === 'apiKey'
              ? rule.action !== 'self' && scopesAllow(API_KEY_SCOPES, rule.action)
              : rule.action === 'self' || (PERMISSIONS[rule.action] as readonly string[]).includes(caller);
        const expectedDenial = caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
        if (!allowed) {
          if (got[0] !== expectedDenial) say(`expected ${expectedDenial}`);
          continue;
        }
        if (got.includes('FORBIDDEN') || got.includes('UNAUTHENTICATED')) say('expected to be let through');
        // Aimed at the other tenant's object: nothing of theirs comes back (NOT_FOUND or null).
        const ids = [foreign.tenant, foreign.user, foreign.rule, foreign.purchase, foreign.integration, foreign.paymentEvent, foreign.invitation, foreign.apiKey];
        const aimsAtForeign = ids.some((id) => JSON.stringify(op.variables).includes(id));
        if (aimsAtForeign && got.length === 0 && value !== null && value !== undefined) say(`answered for another tenant's id: ${JSON.stringify(value)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot(foreign.tenant)).toEqual(before);
    // Every field × five callers, sequentially, on a loaded two-core machine.
  }, 240_000);

  it('_entities on each subgraph returns nothing of another tenant', async () => {
    const failures: string[] = [];
    for (const [name, url] of Object.entries(t.platform.urls)) {
      if (name === 'workers' || name === 'gateway' || !url) continue;
      const sdl = (await must<{ _service: { sdl: string } }>(url, '{ _service { sdl } }', {}))._service.sdl;
      const entityTypes = parse(sdl).definitions.flatMap((d) =>
        (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) && d.directives?.some((x) => x.name.value === 'key') ? [d.name.value] : [],
      );
      for (const type of entityTypes) {
        const which = ENTITIES[type];
        if (which === undefined) {
          failures.push(`${name}: entity ${type} is not classified in ENTITIES of test/e2e/access-matrix.e2e.test.ts`);
          continue;
        }
        if (which === null) continue;
        for (const caller of CALLERS) {
          const res = await post(url, `query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }`, { r: [{ __typename: type, id: foreign[which] }] }, tokens[caller]);
          const list = (res.data?._entities ?? [null]) as unknown[];
          if (list.some((e) => e !== null)) failures.push(`${name}: ${type} of the other tenant resolved for ${caller}`);
          if (codes(res).includes('INTERNAL_SERVER_ERROR')) failures.push(`${name}: ${type} as ${caller}: internal error`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(ownTenant).not.toBe(foreign.tenant);
  });
});
