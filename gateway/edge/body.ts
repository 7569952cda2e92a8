import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { Lexer, Source, TokenKind } from 'graphql';
import { EdgeCode, EdgeError, sendEdgeError } from './errors';
import { operationsOf } from './operations';

export type BodyLimits = {
  /** Largest request body, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Operations per batched POST (a JSON array); 1 turns batching off. Default 10. */
  maxBatchSize?: number;
  /** Lexical tokens per operation document, counted before anything is parsed. Default 1 500. */
  maxTokens?: number;
};

export const BODY_LIMIT_DEFAULTS: Required<BodyLimits> = { maxBodyBytes: 1024 * 1024, maxBatchSize: 10, maxTokens: 1500 };

const tooLarge = (max: number): EdgeError =>
  new EdgeError(EdgeCode.PAYLOAD_TOO_LARGE, `request body is larger than ${max} bytes`, 413, { maxBodyBytes: max });

/**
 * Refuses a body whose declared Content-Length is over the limit at once, without reading or
 * parsing it, and closes the connection so the rest of the upload is not waited for.
 */
export function declaredBodyLimit(maxBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.header('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.set('Connection', 'close');
      return sendEdgeError(res, tooLarge(maxBytes));
    }
    next();
  };
}

/** JSON body parsing with the same limit enforced while streaming (chunked bodies), and coded errors. */
export function jsonBody(maxBytes: number): [RequestHandler, ErrorRequestHandler] {
  return [
    express.json({ limit: maxBytes }),
    (err: unknown, _req, res, next) => {
      const type = (err as { type?: unknown } | null)?.type;
      if (type === 'entity.too.large') {
        res.set('Connection', 'close');
        return sendEdgeError(res, tooLarge(maxBytes));
      }
      if (type === 'entity.parse.failed' || type === 'encoding.unsupported' || type === 'charset.unsupported') {
        return sendEdgeError(res, new EdgeError(EdgeCode.BAD_REQUEST, 'request body is not valid JSON', 400));
      }
      next(err);
    },
  ];
}

/** Refuses a batch larger than the limit (or any batch when batching is off) before anything runs. */
export function batchLimit(maxBatchSize: number): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST' || !Array.isArray(req.body)) return next();
    const n = (req.body as unknown[]).length;
    if (n > maxBatchSize) {
      const message =
        maxBatchSize <= 1 ? 'operation batching is disabled' : `a batch may hold at most ${maxBatchSize} operations, this one holds ${n}`;
      return sendEdgeError(res, new EdgeError(EdgeCode.BATCH_TOO_LARGE, message, 400, { maxBatchSize }));
    }
    next();
  };
}

/** Counts lexical tokens, stopping as soon as the limit is passed; syntax errors are left to the parser. */
export function exceedsTokens(query: string, max: number): boolean {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) if (++n > max) return true;
  } catch {
    return false;
  }
  return false;
}

/** Refuses a document with more tokens than the limit before it is parsed (graphql-armor's max-tokens, at the door). */
export function tokenLimit(maxTokens: number): RequestHandler {
  return (req, res, next) => {
    for (const op of operationsOf(req)) {
      if (op.query !== undefined && exceedsTokens(op.query, maxTokens)) {
        return sendEdgeError(
          res,
          new EdgeError(EdgeCode.MAX_TOKENS_EXCEEDED, `Token limit of ${maxTokens} exceeded.`, 400, { maxTokens }),
        );
      }
    }
    next();
  };
}
