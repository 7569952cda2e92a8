import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { IntegrationRoute, PaymentEvent, PaymentIntegration } from './integration.entity';
import { IntegrationResolver } from './integration.resolver';
import { Membership, RefreshToken, Tenant, UserRecord } from './tenant.entity';
import { AuthResolver, TenantResolver, UserResolver, tenantReferences } from './tenant.resolver';

export const tenantEntities = [Tenant, UserRecord, Membership, RefreshToken, PaymentIntegration, IntegrationRoute, PaymentEvent];

export function buildTenantSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([AuthResolver, UserResolver, TenantResolver, IntegrationResolver], tenantReferences);
}
