import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { GATEWAY_SIGNATURE_HEADER, signGatewayRequest } from '../../lib/auth/gateway-signature';

/**
 * Signs every request the data source sends to its subgraph (see lib/auth/gateway-signature.ts):
 * at the fetch, so the signature covers the exact body bytes Apollo serialised.
 */
export function signedBy<T extends RemoteGraphQLDataSource<never>>(secret: string | undefined, subgraph: string, source: T): T {
  if (!secret) return source;
  const fetcher: Fetcher = source.fetcher;
  source.fetcher = (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    return fetcher(url, { ...init, headers: { ...init?.headers, [GATEWAY_SIGNATURE_HEADER]: signGatewayRequest(secret, subgraph, body) } });
  };
  return source;
}
