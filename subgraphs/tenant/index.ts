import type { GraphQLSchema } from 'graphql';
import { refuseUnstorableArguments } from '../../lib/storable-text';
import { buildFederatedSchema } from '../../lib/subgraph';
import { IntegrationRoute, PaymentAccountRoute, PaymentEvent, PaymentIntegration } from './payments/integration.entity';
import { IntegrationResolver } from './payments/integration.resolver';
import { paymentEventReferences } from './payments/payment-event.reference';
import { PaymentEventResolver } from './payments/payment-event.resolver';
import { PaymentOAuthResolver } from './payments/oauth/oauth.resolver';
import { ApiKey } from './identity/api-key.entity';
import { ApiKeyResolver } from './identity/api-key.resolver';
import { AuthResolver, MfaResolver } from './identity/auth.resolver';
import { tenantReferences } from './identity/identity.reference';
import { LoginThrottleRow } from './identity/login-throttle.entity';
import { MemberResolver } from './identity/member.resolver';
import { Invitation, Membership, RecoveryCode, RefreshToken, Tenant, UserRecord } from './identity/tenant.entity';
import { TenantResolver, UserResolver } from './identity/tenant.resolver';
import { NotificationResolver } from './notifications/notification.resolver';
import { WebhookEndpointResolver } from './endpoints/webhook.resolver';

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
  PaymentAccountRoute,
  PaymentEvent,
];

export async function buildTenantSchema(): Promise<GraphQLSchema> {
  // Names, emails, notes and keys reach text columns: U+0000 is a BAD_USER_INPUT, not a database error.
  return refuseUnstorableArguments(
    await buildFederatedSchema(
      [AuthResolver, MemberResolver, MfaResolver, ApiKeyResolver, UserResolver, TenantResolver, IntegrationResolver, PaymentOAuthResolver, PaymentEventResolver, NotificationResolver, WebhookEndpointResolver],
      { ...tenantReferences, ...paymentEventReferences },
    ),
  );
}
