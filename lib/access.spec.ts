import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  ACTIONS,
  AccessGate,
  NEVER_FOR_API_KEYS,
  PERMISSIONS,
  SCOPE_ACTIONS,
  SENSITIVE_ACTIONS,
  SENSITIVE_AMOUNT_CENTS,
  SOCKET_RECHECK_MS,
  SubscriptionGate,
  authorize,
  permissionMatrixMarkdown,
  reverifyOfficer,
  type Principal,
  type RemoteAsk,
  type SocketCredential,
} from './access';
import { SUBSCRIPTION_SOURCES } from '../gateway/subscriptions/sources';
import { present } from '../test/helpers/present';
import { API_KEY_SCOPES } from './auth/api-keys';
import { signAccessToken } from './auth/tokens';
import { TenantDirectory } from './db/tenant-context';

const T = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const orm = {} as MikroORM;
const gate = new AccessGate(orm, new TenantDirectory(orm));
const user = (role: 'OWNER' | 'ADMIN' | 'USER' | 'VIEWER', extra: Partial<Extract<Principal, { kind: 'user' }>> = {}): { principal: Principal } => ({
  principal: { kind: 'user', userId: 'u', tenantId: T, role, amr: ['pwd'], ...extra },
});
const key = (...scopes: (typeof API_KEY_SCOPES)[number][]): { principal: Principal } => ({ principal: { kind: 'apiKey', keyId: 'k', tenantId: T, scopes } });
const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'OK';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
};

describe('the permission matrix', () => {
  it('is documented in docs/access.md exactly (ACCESS_DOC=write npx jest lib/access.spec.ts to regenerate)', () => {
    const path = join(__dirname, '..', 'docs', 'access.md');
    const doc = readFileSync(path, 'utf8');
    const start = '<!-- permission-matrix:start (generated from lib/access.ts PERMISSIONS; do not edit by hand) -->';
    const end = '<!-- permission-matrix:end -->';
    const i = doc.indexOf(start);
    const j = doc.indexOf(end);
    expect([i >= 0, j > i]).toEqual([true, true]);
    const expected = `${start}\n${permissionMatrixMarkdown()}\n${end}`;
    if (process.env.ACCESS_DOC === 'write') writeFileSync(path, doc.slice(0, i) + expected + doc.slice(j + end.length));
    else expect(doc.slice(i, j + end.length)).toBe(expected);
  });

  it('documents every subscription field, its action and audience, and the amount rule in docs/access.md', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'access.md'), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- subscription-matrix:start'), doc.indexOf('<!-- subscription-matrix:end -->'));
    const rows = table.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.sort()).toEqual(
      Object.entries(SUBSCRIPTION_SOURCES)
        .map(([name, s]) => `| \`${name}\` | \`${s.action}\` | ${s.audience} |`)
        .sort(),
    );
    expect(doc).toContain(`\`SENSITIVE_AMOUNT_CENTS\` = ${SENSITIVE_AMOUNT_CENTS} cents`);
    expect(doc).toContain(`\`SOCKET_RECHECK_MS\` = ${SOCKET_RECHECK_MS / 1000} s`);
  });

  it('has the roles the issue asks for', () => {
    const who = (a: keyof typeof PERMISSIONS): string[] => [...PERMISSIONS[a]];
    expect(who('purchase:request')).toEqual(['OWNER', 'ADMIN', 'USER']);
    for (const a of ['rule:write', 'integration:write', 'user:manage', 'apikey:manage'] as const) expect(who(a)).toEqual(['OWNER', 'ADMIN']);
    for (const a of ['owner:manage', 'tenant:security'] as const) expect(who(a)).toEqual(['OWNER']);
    // VIEWER reads only: every action it may do is a read.
    const viewer = ACTIONS.filter((a) => (PERMISSIONS[a] as readonly string[]).includes('VIEWER'));
    expect(viewer.every((a) => /:(read|read-self|verify)$/.test(a))).toBe(true);
  });

  it('never lets an API key manage users, keys, owners or the tenant', () => {
    for (const s of API_KEY_SCOPES) for (const a of SCOPE_ACTIONS[s]) expect([s, a, NEVER_FOR_API_KEYS.has(a)]).toEqual([s, a, false]);
    for (const a of ['user:manage', 'apikey:manage', 'apikey:read', 'owner:manage', 'tenant:security', 'user:read-self'] as const) {
      expect(code(() => authorize(key(...API_KEY_SCOPES).principal, a))).toBe('FORBIDDEN');
    }
    for (const a of SENSITIVE_ACTIONS) expect(code(() => gate.require(key(...API_KEY_SCOPES), a))).toBe('FORBIDDEN');
  });
});

describe('the access gate', () => {
  it('maps scopes to actions and binds keys to their tenant', () => {
    expect(code(() => gate.require(key('read:treasury'), 'rule:read'))).toBe('OK');
    expect(code(() => gate.require(key('read:treasury'), 'audit:read'))).toBe('FORBIDDEN');
    expect(code(() => gate.require(key('write:purchases'), 'purchase:request'))).toBe('OK');
    expect(code(() => gate.require(key('read:treasury'), 'rule:read', OTHER))).toBe('NOT_FOUND');
    const scope = gate.require(key('read:compliance'), 'audit:read');
    expect([scope.actor, scope.userId, scope.tenantId, scope.role]).toEqual(['apiKey', 'k', T, 'VIEWER']);
    expect(gate.forReference(key('read:treasury'), 'rule:read', T)?.actor).toBe('apiKey');
    expect(gate.forReference(key('read:market'), 'rule:read', T)).toBeNull();
  });

  it('demands a second factor for sensitive actions only when the tenant requires it', () => {
    expect(code(() => gate.require(user('ADMIN'), 'apikey:manage'))).toBe('OK');
    expect(code(() => gate.require(user('ADMIN', { mfaRequired: true }), 'apikey:manage'))).toBe('MFA_REQUIRED');
    expect(code(() => gate.require(user('ADMIN', { mfaRequired: true, amr: ['pwd', 'otp'] }), 'apikey:manage'))).toBe('OK');
    expect(code(() => gate.require(user('ADMIN', { mfaRequired: true }), 'rule:write'))).toBe('OK');
    expect(code(() => gate.requireSensitive(user('ADMIN', { mfaRequired: true }), 'rule:write'))).toBe('MFA_REQUIRED');
    // The role check comes first: a VIEWER learns FORBIDDEN, not MFA_REQUIRED.
    expect(code(() => gate.require(user('VIEWER', { mfaRequired: true }), 'apikey:manage'))).toBe('FORBIDDEN');
    expect(code(() => gate.require({ principal: { kind: 'anonymous' } }, 'tenant:read'))).toBe('UNAUTHENTICATED');
    const s = gate.require(user('USER'), 'purchase:request');
    expect([s.actor, s.amr]).toEqual(['user', ['pwd']]);
  });
});

describe('amount-based sensitivity', () => {
  it('demands a second factor from SENSITIVE_AMOUNT_CENTS on, only when the tenant requires MFA', () => {
    const admin = user('ADMIN', { mfaRequired: true });
    expect(code(() => gate.requireForAmounts(admin, 'rule:write', [SENSITIVE_AMOUNT_CENTS - 1n, null, undefined]))).toBe('OK');
    expect(code(() => gate.requireForAmounts(admin, 'rule:write', [null, SENSITIVE_AMOUNT_CENTS]))).toBe('MFA_REQUIRED');
    expect(code(() => gate.requireForAmounts(user('ADMIN'), 'rule:write', [SENSITIVE_AMOUNT_CENTS * 10n]))).toBe('OK');
    expect(code(() => gate.requireForAmounts(user('ADMIN', { mfaRequired: true, amr: ['pwd', 'otp'] }), 'purchase:request', [SENSITIVE_AMOUNT_CENTS]))).toBe('OK');
    // The role check comes first.
    expect(code(() => gate.requireForAmounts(user('VIEWER', { mfaRequired: true }), 'purchase:request', [SENSITIVE_AMOUNT_CENTS]))).toBe('FORBIDDEN');
  });
});

describe('the subscription gate (WebSocket)', () => {
  const KEYS = 'k'.repeat(64);
  type Answer = Awaited<ReturnType<RemoteAsk>>;
  /** The subgraphs as the gate sees them: a fixed answer per query. */
  const subgraphs = (answers: Record<string, Answer | Error>): { ask: RemoteAsk; asked: string[] } => {
    const asked: string[] = [];
    const ask: RemoteAsk = (query) => {
      asked.push(query);
      const a = answers[query] ?? { errors: [{ message: 'unexpected', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] };
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    };
    return { ask, asked };
  };
  const ME = '{ me { id role tenantId } }';
  const U = '33333333-3333-4333-8333-333333333333';
  const cred = (principal: Principal): SocketCredential => ({ principal, authorization: 'Bearer x', expiresAt: undefined });
  const field = (name: keyof typeof SUBSCRIPTION_SOURCES) => ({ name, ...present(SUBSCRIPTION_SOURCES[name], `subscription source ${name}`), mustSee: null });
  const refusal = async (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (err: { code?: string }) => String(err.code));

  it('connects a JWT only when the subgraphs still accept it, with the member’s current role', async () => {
    const token = await signAccessToken({ sub: U, tid: T, role: 'OWNER', amr: ['pwd'], sid: OTHER }, KEYS);
    const demoted = new SubscriptionGate(KEYS, subgraphs({ [ME]: { data: { me: { id: U, role: 'VIEWER', tenantId: T } } } }).ask);
    const c = await demoted.connect(`Bearer ${token}`);
    expect(c.principal).toMatchObject({ kind: 'user', userId: U, tenantId: T, role: 'VIEWER' });
    expect(c.expiresAt).toBeGreaterThan(Date.now());
    const removed = new SubscriptionGate(KEYS, subgraphs({ [ME]: { errors: [{ message: 'membership no longer exists', extensions: { code: 'UNAUTHENTICATED' } }] } }).ask);
    await expect(removed.connect(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'membership no longer exists' });
    const down = new SubscriptionGate(KEYS, subgraphs({ [ME]: new Error('ECONNREFUSED') }).ask);
    expect(await refusal(down.connect(`Bearer ${token}`))).toBe('INTERNAL_SERVER_ERROR');
    expect(await refusal(removed.connect('Bearer not-a-jwt'))).toBe('UNAUTHENTICATED');
    expect((await removed.connect(undefined)).principal).toEqual({ kind: 'anonymous' });
  });

  it('re-verifies: valid, revoked (logout, removal, another user or tenant), changed role, or unknown when the subgraphs cannot say', async () => {
    const p = user('ADMIN').principal as Extract<Principal, { kind: 'user' }>;
    const me = (m: unknown): Answer => ({ data: { me: m } });
    const outcome = (a: Answer | Error) => new SubscriptionGate(KEYS, subgraphs({ [ME]: a }).ask).reverify(cred({ ...p, userId: U }));
    expect(await outcome(me({ id: U, role: 'ADMIN', tenantId: T }))).toEqual({ outcome: 'valid' });
    expect(await outcome(me({ id: U, role: 'VIEWER', tenantId: T }))).toEqual({ outcome: 'changed', principal: { ...p, userId: U, role: 'VIEWER' } });
    expect(await outcome({ errors: [{ message: 'session has been logged out', extensions: { code: 'UNAUTHENTICATED' } }] })).toEqual({
      outcome: 'revoked',
      reason: 'session has been logged out',
    });
    expect((await outcome(me({ id: U, role: 'ADMIN', tenantId: OTHER }))).outcome).toBe('revoked');
    expect((await outcome(me({ id: OTHER, role: 'ADMIN', tenantId: T }))).outcome).toBe('revoked');
    expect((await outcome(new Error('timeout'))).outcome).toBe('unknown');
    expect((await outcome({ errors: [{ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] })).outcome).toBe('unknown');
    const expired = { ...cred({ ...p, userId: U }), expiresAt: Date.now() - 1 };
    expect(await new SubscriptionGate(KEYS, subgraphs({}).ask).reverify(expired)).toEqual({ outcome: 'revoked', reason: 'token has expired' });
    expect(await new SubscriptionGate(KEYS, subgraphs({}).ask).reverify(cred({ kind: 'anonymous' }))).toEqual({ outcome: 'valid' });
  });

  it('decides who may subscribe to which field, and always to the credential’s own tenant', async () => {
    const { ask, asked } = subgraphs({
      '{ purchases(limit: 1) { id } }': { errors: [{ message: 'no', extensions: { code: 'FORBIDDEN' } }] },
      '{ treasuryRules { id } }': { data: { treasuryRules: [] } },
      'query ($id: ID!) { purchase(id: $id) { id } }': { data: { purchase: null } },
    });
    const g = new SubscriptionGate(KEYS, ask);
    expect(await g.forSubscription(cred(user('VIEWER').principal), field('purchaseUpdated'))).toEqual({ tenantId: T });
    expect(await g.forSubscription(cred({ kind: 'anonymous' }), field('btcPrice'))).toEqual({ tenantId: undefined });
    expect(await refusal(g.forSubscription(cred({ kind: 'anonymous' }), field('purchaseUpdated')))).toBe('UNAUTHENTICATED');
    // Users by the matrix, without asking; API keys by the subgraphs' answer to the field's probe.
    expect(asked).toEqual([]);
    const k = cred(key().principal);
    expect(await g.forSubscription(k, field('treasuryEvents'))).toEqual({ tenantId: T });
    expect(await refusal(g.forSubscription(k, field('purchaseUpdated')))).toBe('FORBIDDEN');
    // A named object the caller cannot see is NOT_FOUND.
    const named = { ...field('purchaseUpdated'), mustSee: { query: 'query ($id: ID!) { purchase(id: $id) { id } }', variables: { id: U }, what: 'purchase' } };
    expect(await refusal(g.forSubscription(cred(user('OWNER').principal), named))).toBe('NOT_FOUND');
  });

  it('lets only the compliance officer subscribe to complianceAlerts: the subgraph’s probe decides, tenant roles never do', async () => {
    const probe = 'mutation { startComplianceAlertFeed }';
    const notOfficer = { errors: [{ message: 'compliance cases are for the platform’s compliance officer', extensions: { code: 'FORBIDDEN' } }] };
    const officer = new SubscriptionGate(KEYS, subgraphs({ [probe]: { data: { startComplianceAlertFeed: true } } }).ask);
    // Every channel of every tenant: no tenant is bound (the grant names none).
    expect(await officer.forSubscription(cred(user('VIEWER').principal), field('complianceAlerts'))).toEqual({ tenantId: undefined });
    const owner = subgraphs({ [probe]: notOfficer });
    const tenantGate = new SubscriptionGate(KEYS, owner.ask);
    for (const role of ['OWNER', 'ADMIN', 'USER', 'VIEWER'] as const) {
      expect(await refusal(tenantGate.forSubscription(cred(user(role).principal), field('complianceAlerts')))).toBe('FORBIDDEN');
    }
    // API keys are tenant-bound: refused without asking; anonymous is UNAUTHENTICATED, without asking.
    const keyAsk = subgraphs({ [probe]: { data: { startComplianceAlertFeed: true } } });
    const keyGate = new SubscriptionGate(KEYS, keyAsk.ask);
    expect(await refusal(keyGate.forSubscription(cred(key('read:compliance').principal), field('complianceAlerts')))).toBe('FORBIDDEN');
    expect(await refusal(keyGate.forSubscription(cred({ kind: 'anonymous' }), field('complianceAlerts')))).toBe('UNAUTHENTICATED');
    expect(keyAsk.asked).toEqual([]);
    // A logged-out session is UNAUTHENTICATED; a subgraph that cannot answer refuses without granting.
    const loggedOut = new SubscriptionGate(KEYS, subgraphs({ [probe]: { errors: [{ message: 'session has been logged out', extensions: { code: 'UNAUTHENTICATED' } }] } }).ask);
    expect(await refusal(loggedOut.forSubscription(cred(user('OWNER').principal), field('complianceAlerts')))).toBe('UNAUTHENTICATED');
    const down = new SubscriptionGate(KEYS, subgraphs({}).ask);
    expect(await refusal(down.forSubscription(cred(user('OWNER').principal), field('complianceAlerts')))).toBe('INTERNAL_SERVER_ERROR');
    // No tenant role may do the action at all: the matrix agrees with the gate.
    expect([...PERMISSIONS['compliance:alerts']]).toEqual([]);
  });

  it('re-checks an open officer feed with the read-only query: a revoked role ends it, a subgraph that cannot answer learns nothing', async () => {
    const recheck = present(SUBSCRIPTION_SOURCES.complianceAlerts?.recheck, 'complianceAlerts recheck');
    expect(recheck).not.toContain('mutation');
    const c = cred(user('OWNER').principal);
    expect(await reverifyOfficer(subgraphs({ [recheck]: { data: { complianceOfficerActive: true } } }).ask, c, recheck)).toEqual({ outcome: 'valid' });
    const revoked = { errors: [{ message: 'compliance cases are for the platform’s compliance officer', extensions: { code: 'FORBIDDEN' } }] };
    expect(await reverifyOfficer(subgraphs({ [recheck]: revoked }).ask, c, recheck)).toEqual({ outcome: 'revoked', reason: 'no longer the compliance officer' });
    expect(await reverifyOfficer(subgraphs({ [recheck]: { data: { complianceOfficerActive: false } } }).ask, c, recheck)).toMatchObject({ outcome: 'revoked' });
    expect(await reverifyOfficer(subgraphs({}).ask, c, recheck)).toMatchObject({ outcome: 'unknown' });
    expect(await reverifyOfficer(subgraphs({ [recheck]: new Error('connect ECONNREFUSED') }).ask, c, recheck)).toEqual({ outcome: 'unknown', reason: 'connect ECONNREFUSED' });
  });
});
