/**
 * Every operation the dashboard sends. GraphQL Code Generator types them against the committed
 * supergraph (web/scripts/codegen.ts) and gives each a SHA-256 id; the build puts them in the
 * dashboard's persisted-query manifest, and in production only the ids go over HTTP.
 */
import { graphql } from '../gql';

export const AuthFields = graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    accessTokenExpiresAt
    refreshToken
    user {
      id
      email
    }
    tenant {
      id
      name
    }
  }
`);

export const SignUpMutation = graphql(`
  mutation DashboardSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      ...AuthFields
    }
  }
`);

export const LoginMutation = graphql(`
  mutation DashboardLogin($input: LoginInput!) {
    login(input: $input) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      user {
        id
        email
      }
      tenant {
        id
        name
      }
      mfaRequired
      mfaChallenge
    }
  }
`);

export const VerifyMfaMutation = graphql(`
  mutation DashboardVerifyMfa($code: String!, $challenge: String!) {
    verifyMfa(code: $code, challenge: $challenge) {
      ...AuthFields
    }
  }
`);

export const RefreshSessionMutation = graphql(`
  mutation DashboardRefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      ...AuthFields
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation DashboardLogout($refreshToken: String!) {
    logout(refreshToken: $refreshToken)
  }
`);

export const LogoutEverywhereMutation = graphql(`
  mutation DashboardLogoutEverywhere {
    logoutEverywhere
  }
`);

export const SwitchTenantMutation = graphql(`
  mutation DashboardSwitchTenant($tenantId: ID!) {
    switchTenant(tenantId: $tenantId) {
      ...AuthFields
    }
  }
`);

export const AcceptInviteMutation = graphql(`
  mutation DashboardAcceptInvite($token: String!, $password: String) {
    acceptInvite(token: $token, password: $password) {
      ...AuthFields
    }
  }
`);

export const ViewerQuery = graphql(`
  query DashboardViewer {
    me {
      id
      email
      role
      mfaEnabled
      tenant {
        id
        name
        timezone
        plan
        requireMfaForAdmins
      }
    }
    myTenants {
      role
      tenant {
        id
        name
      }
    }
  }
`);

export const EnrollMfaMutation = graphql(`
  mutation DashboardEnrollMfa {
    enrollMfa {
      secret
      otpauthUri
    }
  }
`);

export const ConfirmMfaMutation = graphql(`
  mutation DashboardConfirmMfa($code: String!) {
    confirmMfa(code: $code) {
      recoveryCodes
    }
  }
`);

export const DisableMfaMutation = graphql(`
  mutation DashboardDisableMfa($code: String!) {
    disableMfa(code: $code)
  }
`);

export const PurchaseRow = graphql(`
  fragment PurchaseRow on BitcoinPurchase {
    id
    status
    source
    amountAudCents
    satoshis
    costAudCents
    spentAudCents
    feeAudCents
    averagePrice
    exchange
    failureReason
    currentValueAud
    unrealizedGainAud
    ruleId
    createdAt
    updatedAt
  }
`);

export const PriceQuery = graphql(`
  query DashboardPrice {
    btcPrice(currency: AUD) {
      price
      source
      at
    }
  }
`);

export const LivePriceSubscription = graphql(`
  subscription DashboardLivePrice {
    btcPrice(currency: AUD, minIntervalMs: 1000) {
      price
      source
      at
    }
  }
`);

export const PurchaseUpdatesSubscription = graphql(`
  subscription DashboardPurchaseUpdates {
    purchaseUpdated {
      purchaseId
      status
      previousStatus
      at
      purchase {
        ...PurchaseRow
      }
    }
  }
`);

export const OverviewQuery = graphql(`
  query DashboardOverview {
    btcPrice(currency: AUD) {
      price
      source
      at
    }
    holdings {
      exchange
      sats
      costBaseAudCents
      feesAudCents
      purchases
      averagePrice
      updatedAt
    }
    purchases(limit: 8) {
      ...PurchaseRow
    }
  }
`);

export const HoldingsHistoryQuery = graphql(`
  query DashboardHoldingsHistory($interval: CandleInterval!, $from: DateTimeISO!) {
    priceHistory(currency: AUD, interval: $interval, from: $from) {
      bucketStart
      close
    }
    purchases(limit: 200) {
      id
      status
      satoshis
      costAudCents
      updatedAt
    }
  }
`);

export const PurchasesQuery = graphql(`
  query DashboardPurchases($limit: Int!, $status: PurchaseStatus) {
    purchases(limit: $limit, status: $status) {
      ...PurchaseRow
      rule {
        id
        name
      }
    }
  }
`);

export const PurchaseQuery = graphql(`
  query DashboardPurchase($id: ID!) {
    purchase(id: $id) {
      ...PurchaseRow
      clientOrderId
      exchangeOrderId
      version
      rule {
        id
        name
        type
      }
      fundedBy {
        kind
        paymentEventId
        amountAudCents
        note
      }
      transitions {
        id
        fromStatus
        toStatus
        reason
        at
      }
      exchangeAttempts {
        id
        exchange
        operation
        outcome
        errorKind
        detail
        at
      }
    }
  }
`);

export const AuditTrailQuery = graphql(`
  query DashboardAuditTrail($first: Int!, $after: String) {
    auditEvents(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          id
          seq
          eventType
          actorId
          subjectType
          subjectId
          payload
          createdAt
          prevHash
          hash
        }
      }
    }
  }
`);

export const VerifyAuditChainQuery = graphql(`
  query DashboardVerifyAuditChain {
    verifyAuditChain {
      valid
      eventsChecked
      firstBadEventId
      firstBadSeq
      reason
    }
  }
`);

export const RequestPurchaseMutation = graphql(`
  mutation DashboardRequestPurchase($amountAudCents: AudCents!, $idempotencyKey: String!) {
    requestPurchase(amountAudCents: $amountAudCents, idempotencyKey: $idempotencyKey) {
      ...PurchaseRow
    }
  }
`);

export const CancelPurchaseMutation = graphql(`
  mutation DashboardCancelPurchase($id: ID!) {
    cancelPurchase(id: $id) {
      ...PurchaseRow
    }
  }
`);

export const RuleFields = graphql(`
  fragment RuleFields on TreasuryRule {
    id
    name
    type
    enabled
    percentageBps
    amountAudCents
    schedule
    minOrderAudCents
    maxPerPurchaseAudCents
    dailyCapAudCents
    monthlyCapAudCents
    provider
    lookbackDays
    cooldownMinutes
    lastFiredAt
    nextRunAt
    version
    updatedAt
  }
`);

export const RulesQuery = graphql(`
  query DashboardRules {
    treasuryRules {
      ...RuleFields
    }
    treasurySettings {
      primaryExchange
      failoverExchanges
      cutoffLocalTime
    }
  }
`);

export const RuleQuery = graphql(`
  query DashboardRule($id: ID!) {
    treasuryRule(id: $id) {
      ...RuleFields
    }
  }
`);

export const CreateRuleMutation = graphql(`
  mutation DashboardCreateRule($input: TreasuryRuleInput!) {
    createTreasuryRule(input: $input) {
      ...RuleFields
    }
  }
`);

export const UpdateRuleMutation = graphql(`
  mutation DashboardUpdateRule($id: ID!, $patch: TreasuryRulePatch!) {
    updateTreasuryRule(id: $id, patch: $patch) {
      ...RuleFields
    }
  }
`);

export const EnableRuleMutation = graphql(`
  mutation DashboardEnableRule($id: ID!) {
    enableTreasuryRule(id: $id) {
      ...RuleFields
    }
  }
`);

export const DisableRuleMutation = graphql(`
  mutation DashboardDisableRule($id: ID!) {
    disableTreasuryRule(id: $id) {
      ...RuleFields
    }
  }
`);

export const DeleteRuleMutation = graphql(`
  mutation DashboardDeleteRule($id: ID!) {
    deleteTreasuryRule(id: $id)
  }
`);

export const UpdateTreasurySettingsMutation = graphql(`
  mutation DashboardUpdateTreasurySettings($patch: TreasurySettingsPatch!) {
    updateTreasurySettings(patch: $patch) {
      primaryExchange
      failoverExchanges
      cutoffLocalTime
    }
  }
`);

export const TreasuryEventsSubscription = graphql(`
  subscription DashboardTreasuryEvents {
    treasuryEvents {
      ruleId
      change
      ruleVersion
      rule {
        ...RuleFields
      }
    }
  }
`);

export const PriceHistoryQuery = graphql(`
  query DashboardPriceHistory($interval: CandleInterval!, $from: DateTimeISO!) {
    priceHistory(currency: AUD, interval: $interval, from: $from) {
      bucketStart
      close
    }
  }
`);

export const IntegrationsQuery = graphql(`
  query DashboardIntegrations {
    paymentIntegrations {
      id
      provider
      name
      status
      createdAt
      webhookUrl
    }
  }
`);

export const PaymentEventsQuery = graphql(`
  query DashboardPaymentEvents($first: Int!, $after: String, $integrationId: ID, $status: PaymentEventStatus) {
    paymentEvents(first: $first, after: $after, integrationId: $integrationId, status: $status) {
      hasNextPage
      endCursor
      edges {
        cursor
        node {
          id
          integrationId
          provider
          providerEventId
          eventType
          kind
          amount
          currency
          receivedAt
          status
          reason
          sanitized
          purchases {
            id
            status
            amountAudCents
          }
        }
      }
    }
  }
`);

export const ConnectIntegrationMutation = graphql(`
  mutation DashboardConnectIntegration($input: ConnectPaymentIntegrationInput!) {
    connectPaymentIntegration(input: $input) {
      id
      provider
      name
      status
      createdAt
      webhookUrl
    }
  }
`);

export const DisconnectIntegrationMutation = graphql(`
  mutation DashboardDisconnectIntegration($id: ID!) {
    disconnectPaymentIntegration(id: $id) {
      id
      status
    }
  }
`);

export const MembersQuery = graphql(`
  query DashboardMembers {
    members {
      userId
      email
      role
      joinedAt
    }
  }
`);

export const TeamAdminQuery = graphql(`
  query DashboardTeamAdmin {
    invitations {
      id
      email
      role
      expiresAt
      acceptedAt
      revokedAt
      createdAt
    }
    apiKeys {
      id
      name
      prefix
      scopes
      expiresAt
      lastUsedAt
      revokedAt
      createdAt
    }
  }
`);

export const InviteUserMutation = graphql(`
  mutation DashboardInviteUser($email: String!, $role: Role!) {
    inviteUser(email: $email, role: $role) {
      token
      invitation {
        id
        email
        role
        expiresAt
      }
    }
  }
`);

export const RevokeInvitationMutation = graphql(`
  mutation DashboardRevokeInvitation($id: ID!) {
    revokeInvitation(id: $id) {
      id
      revokedAt
    }
  }
`);

export const ChangeMemberRoleMutation = graphql(`
  mutation DashboardChangeMemberRole($userId: ID!, $role: Role!) {
    changeMemberRole(userId: $userId, role: $role) {
      userId
      role
    }
  }
`);

export const RemoveMemberMutation = graphql(`
  mutation DashboardRemoveMember($userId: ID!) {
    removeMember(userId: $userId)
  }
`);

export const TransferOwnershipMutation = graphql(`
  mutation DashboardTransferOwnership($userId: ID!) {
    transferOwnership(userId: $userId) {
      userId
      role
    }
  }
`);

export const SetRequireMfaMutation = graphql(`
  mutation DashboardSetRequireMfa($enabled: Boolean!) {
    setRequireMfaForAdmins(enabled: $enabled) {
      id
      requireMfaForAdmins
    }
  }
`);

export const CreateApiKeyMutation = graphql(`
  mutation DashboardCreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      key
      apiKey {
        id
        name
        prefix
        scopes
      }
    }
  }
`);

export const RevokeApiKeyMutation = graphql(`
  mutation DashboardRevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      revokedAt
    }
  }
`);
