import type { GraphQLSchema } from 'graphql';
import { refuseUnstorableArguments } from '../../lib/storable-text';
import { buildFederatedSchema } from '../../lib/subgraph';
import { IntegrationRoute, PaymentEvent, PaymentIntegration } from './payments/integration.entity';
import { IntegrationResolver } from './payments/integration.resolver';
import { PaymentEventResolver, paymentEventReferences } from './payments/payment-event.resolver';
import { ApiKey, Invitation, LoginThrottleRow, Membership, RecoveryCode, RefreshToken, Tenant, UserRecord } from './identity/tenant.entity';
import { ApiKeyResolver, AuthResolver, MemberResolver, MfaResolver, TenantResolver, UserResolver, tenantReferences } from './identity/tenant.resolver';

export const tenantEntities = [
  Tenant,
  UserRecord,
  Membership,
  RefreshToken,
  RecoveryCode,
  Invitation,
  ApiKey,
  LoginThrottleRow,
  PaymentIntegration,
  IntegrationRoute,
  PaymentEvent,
];

export async function buildTenantSchema(): Promise<GraphQLSchema> {
  // Names, emails, notes and keys reach text columns: U+0000 is a BAD_USER_INPUT, not a database error.
  return refuseUnstorableArguments(
    await buildFederatedSchema(
      [AuthResolver, MemberResolver, MfaResolver, ApiKeyResolver, UserResolver, TenantResolver, IntegrationResolver, PaymentEventResolver],
      { ...tenantReferences, ...paymentEventReferences },
    ),
  );
}
