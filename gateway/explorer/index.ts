import type { RequestHandler } from 'express';

export type ExplorerOptions = { enabled: boolean };

/**
 * The developer explorer (GraphiQL) on GET /graphql for browsers. Not built yet: passes through to
 * Apollo, which answers browsers with its own landing page.
 */
export function explorer(_opts: ExplorerOptions): RequestHandler {
  return (_req, _res, next) => next();
}
