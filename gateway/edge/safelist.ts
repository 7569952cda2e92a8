import type { RequestHandler } from 'express';
import { log } from '../../lib/logger';
import { callerOf } from './credentials';
import { EdgeCode, EdgeError, sendEdgeError } from './errors';
import { sha256Hex } from './manifest';
import { operationsOf, type WireOperation } from './operations';

/**
 * Whether an operation is in the manifest: by id (Apollo's `extensions.persistedQuery.sha256Hash`
 * equal to a manifest id, with no query or with exactly that body) or by an identical body.
 */
export function inManifest(op: WireOperation, manifest: ReadonlyMap<string, string>): boolean {
  if (op.query !== undefined) {
    const id = sha256Hex(op.query);
    return manifest.has(id) && (op.sha256Hash === undefined || op.sha256Hash === id);
  }
  return op.sha256Hash !== undefined && manifest.has(op.sha256Hash);
}

/**
 * Partner API keys may run manifest operations only. Anything else is refused before it is parsed
 * (400 PERSISTED_QUERY_NOT_IN_LIST) and logged with the key's public id (`abt_live_<prefix>`),
 * never the secret and never the query text (its literals may hold data).
 */
export function partnerSafelist(manifest: ReadonlyMap<string, string>): RequestHandler {
  return (req, res, next) => {
    const caller = callerOf(res.locals);
    if (caller.kind !== 'apiKey') return next();
    const refused = operationsOf(req).filter((op) => !inManifest(op, manifest));
    if (refused.length === 0) return next();
    log().warn(
      {
        keyId: caller.keyId,
        ip: req.ip,
        operations: refused.map((op) => ({
          operationName: op.operationName?.slice(0, 100),
          sha256Hash: op.sha256Hash?.slice(0, 64),
          bodyHash: op.query === undefined ? undefined : sha256Hex(op.query),
        })),
      },
      'partner operation refused: not in the persisted query list',
    );
    sendEdgeError(
      res,
      new EdgeError(
        EdgeCode.PERSISTED_QUERY_NOT_IN_LIST,
        'API keys may only run operations from the published persisted query list (send its id as extensions.persistedQuery.sha256Hash)',
        400,
      ),
    );
  };
}
