import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type Exchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { RefreshSessionMutation } from './operations';
import { getSession, sessionFrom, setSession, type Session } from './session';

const ENDPOINT = '/graphql';
/** Refresh the access token when it has less than this left. */
const REFRESH_MARGIN_MS = 5 * 60_000;

type HashedDocument = { __meta__?: { hash?: string } };

/**
 * Only ids go over HTTP in production (the gateway preloads the dashboard's manifest); the dev
 * server falls back to Apollo's APQ (send the query when the id is unknown).
 */
const persisted = (): Exchange =>
  persistedExchange({
    enforcePersistedQueries: import.meta.env.PROD,
    enableForMutation: true,
    enableForSubscriptions: false,
    preferGetForPersistedQueries: false,
    generateHash: async (_query, document) => {
      const hash = (document as HashedDocument).__meta__?.hash;
      if (!hash) throw new Error('operation has no persisted id (run the codegen)');
      return hash;
    },
  });

const baseExchanges = (): Exchange[] => [cacheExchange, persisted(), fetchExchange];

/** A client without credentials, for refreshing a session. */
const anonymous = new Client({ url: ENDPOINT, exchanges: baseExchanges(), preferGetMethod: false, requestPolicy: 'network-only' });

let refreshing: Promise<Session | null> | undefined;

/** Rotates the refresh token once (single flight); a refused refresh signs out. */
export function refreshSession(): Promise<Session | null> {
  const s = getSession();
  if (!s) return Promise.resolve(null);
  refreshing ??= anonymous
    .mutation(RefreshSessionMutation, { refreshToken: s.refreshToken })
    .toPromise()
    .then((r) => {
      const payload = r.data?.refreshSession;
      // Another tab may have rotated it already; its session is then the current one.
      if (!payload) {
        const now = getSession();
        if (now && now.refreshToken !== s.refreshToken) return now;
        if (r.error?.networkError) return s;
        setSession(null);
        return null;
      }
      const next = sessionFrom(payload);
      setSession(next);
      return next;
    })
    .finally(() => {
      refreshing = undefined;
    });
  return refreshing;
}

async function freshToken(): Promise<string | undefined> {
  let s = getSession();
  if (s && Date.parse(s.accessTokenExpiresAt) - Date.now() < REFRESH_MARGIN_MS) s = await refreshSession();
  return s?.accessToken;
}

/** For the signed-out screens (sign up, log in, MFA challenge, invitations): HTTP only. */
export const publicClient = (): Client =>
  new Client({ url: ENDPOINT, exchanges: baseExchanges(), preferGetMethod: false, requestPolicy: 'network-only', fetch: authFetch });

const authFetch: typeof fetch = async (input, init) => {
  const token = await freshToken();
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

export type ApiClient = { client: Client; ws: WsClient; dispose(): void };

/** The signed-in client: HTTP for queries and mutations, graphql-ws on the same /graphql for subscriptions. */
export function createApiClient(): ApiClient {
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`;
  const ws = createWsClient({
    url: wsUrl,
    lazy: true,
    retryAttempts: 1_000,
    shouldRetry: () => true,
    connectionParams: async () => {
      const token = await freshToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
  });
  const onAuthError = mapExchange({
    onError(error) {
      const unauthenticated = error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED') || error.response?.status === 401;
      if (unauthenticated && getSession()) void refreshSession();
    },
  });
  const client = new Client({
    url: ENDPOINT,
    preferGetMethod: false,
    // Each screen shows what it has at once and refreshes it: other people and workers change data too.
    requestPolicy: 'cache-and-network',
    fetch: authFetch,
    exchanges: [
      onAuthError,
      ...baseExchanges(),
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, ws, dispose: () => void ws.dispose() };
}
