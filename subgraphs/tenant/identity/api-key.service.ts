import { randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { Scope } from '../../../lib/access';
import { API_KEY_SCOPES, isApiKeyScope, newApiKey } from '../../../lib/auth/api-keys';
import { forgetApiKey } from '../../../lib/auth/credentials';
import { badInput, notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import { actorOf, auditAuth } from './auth.shared';
import { ApiKey } from './api-key.entity';

export const MAX_KEYS_PER_TENANT = 100;

/** Partner API keys: created by OWNER/ADMIN, shown once, stored as lookup prefix + SHA-256 of the secret. */
export class ApiKeyService {
  list(scope: Scope): Promise<ApiKey[]> {
    return scope.tx(({ em }) => em.find(ApiKey, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'desc' } }));
  }

  async create(scope: Scope, input: { name: string; scopes: string[]; expiresAt?: Date | null }): Promise<{ apiKey: ApiKey; key: string }> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100) throw badInput('name must be 1 to 100 characters', 'name');
    const scopes = [...new Set(input.scopes.map((s) => s.trim()))];
    if (scopes.length === 0) throw badInput('give at least one scope', 'scopes');
    const unknown = scopes.filter((s) => !isApiKeyScope(s));
    if (unknown.length) throw badInput(`unknown scopes ${unknown.join(', ')}; known: ${API_KEY_SCOPES.join(', ')}`, 'scopes');
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now())) throw badInput('expiresAt must be in the future', 'expiresAt');
    const generated = newApiKey();
    const apiKey = await scope.tx(async (tx) => {
      const { em } = tx;
      if ((await em.count(ApiKey, { tenantId: scope.tenantId, revokedAt: null })) >= MAX_KEYS_PER_TENANT) {
        throw badInput(`a tenant may have at most ${MAX_KEYS_PER_TENANT} active API keys`);
      }
      const key = em.create(ApiKey, {
        id: randomUUID(),
        tenantId: scope.tenantId,
        name,
        lookup: generated.lookup,
        secretHash: generated.secretHash,
        scopes,
        createdBy: scope.userId,
        expiresAt,
        createdAt: new Date(),
      });
      await em.flush();
      await auditAuth(tx, 'api_key.created', actorOf(scope), { type: 'ApiKey', id: key.id }, {
        name,
        scopes,
        prefix: key.prefix,
        expiresAt: expiresAt?.toISOString() ?? null,
      });
      return key;
    });
    return { apiKey, key: generated.key };
  }

  async revoke(scope: Scope, id: string): Promise<ApiKey> {
    if (!isUuid(id)) throw notFound('API key');
    const key = await scope.tx(async (tx) => {
      const { em } = tx;
      const found = await em.findOne(ApiKey, { id, tenantId: scope.tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!found) throw notFound('API key');
      if (!found.revokedAt) {
        found.revokedAt = new Date();
        await em.flush();
        await auditAuth(tx, 'api_key.revoked', actorOf(scope), { type: 'ApiKey', id }, { name: found.name, prefix: found.prefix });
      }
      return found;
    });
    forgetApiKey(key.lookup);
    return key;
  }
}
