import express, { type Express } from 'express';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './metrics';

export type ReadinessCheck = { name: string; check: () => Promise<void> };

/** Express app with liveness, readiness (each dependency named) and Prometheus metrics. */
export function createHttpApp(service: string, checks: ReadinessCheck[]): Express {
  const app = express();
  app.disable('x-powered-by');
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
          return [c.name, 'ok'] as const;
        } catch {
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

/** Fast routes of the routers mounted on the app, in mounting order. */
function fastRoutesOf(app: Express): FastRoute[] {
  const stack = (app as unknown as { router?: { stack?: { handle?: WithFastRoute }[] } }).router?.stack ?? [];
  return stack.map((layer) => layer.handle?.[FAST_ROUTE]).filter((r): r is FastRoute => typeof r === 'function');
}

export type Listening = { server: Server; port: number; url: string; close: () => Promise<void> };

export async function listen(app: Express, host: string, port: number): Promise<Listening> {
  let fast: FastRoute[] | undefined;
  const server = createServer((req, res) => {
    // Read once, at the first request: every router is mounted by then.
    fast ??= fastRoutesOf(app);
    for (const route of fast) if (route(req, res)) return;
    app(req, res);
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
function closeGracefully(server: Server, drainMs = HTTP_DRAIN_MS): Promise<void> {
  if (!server.listening) return Promise.resolve();
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
