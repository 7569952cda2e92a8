import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { FetcherResponse } from '@apollo/utils.fetcher';
import type { Redis } from 'ioredis';
import { bearer, verifyAccessToken } from '../lib/auth/tokens';
import { maskError } from '../lib/errors';
import { createHttpApp, listen, type Listening, type ReadinessCheck } from '../lib/http';
import { currentCorrelationId, log, withCorrelation } from '../lib/logger';

export type GatewayContext = { authorization?: string; correlationId?: string };

/** Passes the caller's own credential to each subgraph, which verifies it again. */
class CredentialForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context.authorization) request.http?.headers.set('authorization', context.authorization);
    const correlationId = context.correlationId ?? currentCorrelationId();
    if (correlationId) request.http?.headers.set('x-correlation-id', correlationId);
  }

  /** A subgraph's 4xx carries its own (already masked) coded error: pass that on, not "400: Bad Request". */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const fallback = await super.errorFromResponse(response);
    const body = (fallback.extensions.response as { body?: unknown } | undefined)?.body;
    const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)?.errors?.[0];
    if (response.status < 500 && typeof first?.message === 'string' && typeof first.extensions?.code === 'string') {
      return new GraphQLError(first.message, { extensions: { code: first.extensions.code } });
    }
    return fallback;
  }
}

export type GatewayOptions = {
  host: string;
  port: number;
  supergraphSdl: string;
  /** Subgraph name → URL, overriding the routing URLs baked into the supergraph. */
  subgraphUrls: Record<string, string>;
  jwtSecret: string;
  redis?: Redis;
};

export async function startGateway(opts: GatewayOptions): Promise<Listening> {
  const gateway = new ApolloGateway({
    supergraphSdl: opts.supergraphSdl,
    buildService: ({ name, url }) => new CredentialForwardingDataSource({ url: opts.subgraphUrls[name] ?? url }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
  });
  await apollo.start();

  const checks: ReadinessCheck[] = Object.entries(opts.subgraphUrls).map(([name, url]) => ({
    name,
    check: async () => {
      const res = await fetch(url.replace(/\/graphql$/, '/api/ready'));
      if (!res.ok) throw new Error(`${name} not ready`);
    },
  }));
  if (opts.redis) {
    const redis = opts.redis;
    checks.push({ name: 'redis', check: async () => void (await redis.ping()) });
  }
  const app = createHttpApp('gateway', checks);
  app.use((req, _res, next) => withCorrelation(req.header('x-correlation-id'), { service: 'gateway' }, () => next()));
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const authorization = req.header('authorization');
        // Reject a bad credential at the door; subgraphs still verify it themselves.
        const token = bearer(authorization);
        if (token) await verifyAccessToken(token, opts.jwtSecret);
        return { authorization, correlationId: currentCorrelationId() };
      },
    }),
  );
  const listening = await listen(app, opts.host, opts.port);
  log().info({ url: `${listening.url}/graphql` }, 'gateway listening');
  return {
    ...listening,
    close: async () => {
      await apollo.stop();
      await listening.close();
    },
  };
}
