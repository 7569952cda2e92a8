import type { PaymentProvider } from '../integration.entity';

/**
 * What an integration connected by OAuth keeps in its sealed credentials (the same column and
 * associated data as a pasted secret, so `keys:reseal` re-seals tokens too). Never in a log, an
 * error or a GraphQL field. After a disconnect the tokens are dropped and `revoked` is set.
 */
export type OAuthCredentials = {
  provider: PaymentProvider;
  kind: 'oauth';
  accountId: string;
  accessToken: string | null;
  refreshToken: string | null;
  /** ISO 8601; null when the provider's token does not expire (Stripe Connect). */
  expiresAt: string | null;
  scopes: string[];
  revoked?: boolean;
};

/** What a provider's code exchange (or refresh) gives: the connected account and its tokens. */
export type OAuthGrant = { accountId: string; accessToken: string; refreshToken: string | null; expiresAt: Date | null; scopes: string[] };
