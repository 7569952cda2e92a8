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
  authorize,
  permissionMatrixMarkdown,
  type Principal,
} from './access';
import { API_KEY_SCOPES } from './auth/api-keys';
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
