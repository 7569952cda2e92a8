import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { Membership, RefreshToken, Tenant, UserRecord } from './tenant.entity';
import { AuthResolver, TenantResolver, UserResolver, tenantReferences } from './tenant.resolver';

export const tenantEntities = [Tenant, UserRecord, Membership, RefreshToken];

export function buildTenantSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([AuthResolver, UserResolver, TenantResolver], tenantReferences);
}
