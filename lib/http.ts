import express, { type Express } from 'express';
import { AsyncResource } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { currentCorrelationId, requestContext, withCorrelation } from './logger';
import { observeHttpRequest, registry, setDependencyUp } from './metrics';
import { bindToActiveSpan, traceRequest } from './tracing';

export type ReadinessCheck = { name: string; check: () => Promise<void> };

/** Express app with liveness, readiness (each dependency named) and Prometheus metrics. */
export function createHttpApp(service: string, checks: ReadinessCheck[]): Express {
  const app = express();
  app.disable('x-powered-by');
  app.locals.service = service;
  app.get('/api/health', (_req, res) => {
    res.json({ status: 'ok', service });
  });
  app.get('/api/ready', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error('timeout')), 2000);
          });
          await Promise.race([c.check(), timeout]);
          setDependencyUp(service, c.name, true);
          return [c.name, 'ok'] as const;
        } catch {
          setDependencyUp(service, c.name, false);
          return [c.name, 'down'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const ready = results.every(([, s]) => s === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', service, checks: Object.fromEntries(results) });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  return app;
}

/**
 * A hot endpoint answered before express (no middleware stack, router walk, body-parser or ETag):
 * returns true when it took the request, false to leave it to the express app.
 */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

const FAST_ROUTE = Symbol('abt.fastRoute');
type WithFastRoute = { [FAST_ROUTE]?: FastRoute };

/**
 * Marks a router mounted with `app.use(router)` as also serving some of its requests on the fast
 * path. The router must still serve them itself (apps not started by listen() only use express).
 */
export function attachFastRoute<T extends object>(router: T, route: FastRoute): T {
  (router as WithFastRoute)[FAST_ROUTE] = route;
  return router;
}

/** A JSON answer written at once: what webhook endpoints send. */
export type JsonAnswer = { status: number; body: Record<string, unknown> };
export const PAYLOAD_TOO_LARGE: JsonAnswer = { status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } };

/** Writes a JSON answer in one write (`close` asks the client to drop the connection); a no-op once answered. */
export function replyJson(res: ServerResponse, { status, body }: JsonAnswer, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/**
 * Reads a request body of at most `limit` bytes straight off the socket and hands it to `onBody`.
 * Past the limit (announced or streamed) it answers 413 with `connection: close`, keeps no bytes
 * and never calls `onBody`; a broken request destroys the response.
 */
export function readBoundedBody(req: IncomingMessage, res: ServerResponse, limit: number, given: (body: Buffer) => void): void {
  // A request's 'end' fires outside its async context: onBody runs back inside it (correlation id, trace span).
  const onBody = AsyncResource.bind(given);
  if (Number(req.headers['content-length']) > limit) {
    replyJson(res, PAYLOAD_TOO_LARGE, true);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > limit) {
      refused = true;
      chunks.length = 0;
      replyJson(res, PAYLOAD_TOO_LARGE, true);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (refused) return;
    const [first] = chunks;
    onBody(chunks.length === 1 && first ? first : Buffer.concat(chunks, size));
  });
  req.on('error', () => res.destroy());
}

/** Fast routes of the routers mounted on the app, in mounting order. */
function fastRoutesOf(app: Express): FastRoute[] {
  const stack = (app as unknown as { router?: { stack?: { handle?: WithFastRoute }[] } }).router?.stack ?? [];
  return stack.map((layer) => layer.handle?.[FAST_ROUTE]).filter((r): r is FastRoute => typeof r === 'function');
}

export type Listening = { server: Server; port: number; url: string; close: () => Promise<void> };

/**
 * The one access-log line of a request, written when its response is sent (or the client goes
 * away): correlation id, service, tenant and GraphQL operation when known, method, path (never the
 * query string), status, outcome, error code and duration. Never headers or bodies.
 */
function accessLog(req: IncomingMessage, res: ServerResponse, service: string): void {
  const ctx = requestContext();
  if (!ctx) return;
  const started = performance.now();
  // Read now: express rewrites req.url while a mounted router runs.
  const [path = ''] = (req.url ?? '').split('?');
  const route = path.slice(0, 200);
  let written = false;
  const write = (): void => {
    if (written) return;
    written = true;
    const status = res.writableFinished ? res.statusCode : 499; // 499: the client closed before the answer
    const { tenantId, operation, errorCode } = ctx.note;
    const outcome = status < 400 && !errorCode ? 'ok' : status === 499 ? 'aborted' : 'error';
    const seconds = (performance.now() - started) / 1000;
    observeHttpRequest({ service, method: req.method, path: route, status, seconds });
    ctx.logger().info(
      {
        tenantId,
        method: req.method,
        route,
        operation,
        status,
        outcome,
        errorCode,
        durationMs: Math.round(seconds * 10_000) / 10,
      },
      'request',
    );
  };
  // Written inside the request's span, so the line carries its trace_id / span_id.
  const traced = bindToActiveSpan(write);
  res.once('finish', traced);
  res.once('close', traced);
}

export async function listen(app: Express, host: string, port: number): Promise<Listening> {
  let fast: FastRoute[] | undefined;
  const service = (app.locals as { service?: unknown }).service;
  const server = createServer((req, res) => {
    // Draining for shutdown: answer what still arrives on an open connection, and tell the client to reconnect elsewhere.
    if (draining.has(server)) res.setHeader('connection', 'close');
    const given = req.headers['x-correlation-id'];
    withCorrelation(typeof given === 'string' ? given : undefined, typeof service === 'string' ? { service } : {}, () => {
      // The id this request runs under (the caller's, or a new one): for the routers, the subgraphs and the caller.
      const id = currentCorrelationId()!;
      req.headers['x-correlation-id'] = id;
      res.setHeader('x-correlation-id', id);
      const name = typeof service === 'string' ? service : 'unknown';
      traceRequest(req, res, name, () => {
        accessLog(req, res, name);
        // Read once, at the first request: every router is mounted by then.
        fast ??= fastRoutesOf(app);
        for (const route of fast) if (route(req, res)) return;
        app(req, res);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://${host}:${actual}`,
    close: () => closeGracefully(server),
  };
}

/** How long requests in flight at shutdown may take to finish before their connections are cut. */
export const HTTP_DRAIN_MS = 2000;

/**
 * Stops accepting connections, lets requests in flight finish (at most HTTP_DRAIN_MS), closes idle
 * keep-alive connections as they become idle, then cuts whatever is left.
 */
const draining = new WeakSet<Server>();

function closeGracefully(server: Server, drainMs = HTTP_DRAIN_MS): Promise<void> {
  if (!server.listening) return Promise.resolve();
  draining.add(server);
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
