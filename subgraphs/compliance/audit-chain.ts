import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Canonical JSON: keys sorted at every depth, no whitespace, so equal facts hash equally. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): Json => {
    if (v === null || v === undefined) return null;
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map(norm);
    if (typeof v === 'object') {
      const out: { [k: string]: Json } = {};
      for (const k of Object.keys(v).sort()) {
        const inner = (v as Record<string, unknown>)[k];
        if (inner !== undefined) out[k] = norm(inner);
      }
      return out;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('non-finite number in audit payload');
    return v as Json;
  };
  return JSON.stringify(norm(value));
}

export type ChainFields = {
  id: string;
  tenantId: string;
  seq: bigint;
  eventType: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  payload: Record<string, unknown>;
  createdAt: Date;
};

/** hash = SHA-256(prev_hash ‖ canonical JSON of the event). */
export function chainHash(prevHash: string, e: ChainFields): string {
  const body = canonicalJson({
    id: e.id,
    tenantId: e.tenantId,
    seq: e.seq.toString(),
    eventType: e.eventType,
    actorId: e.actorId,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    payload: e.payload,
    createdAt: e.createdAt.toISOString(),
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

export type StoredEvent = ChainFields & { prevHash: string; hash: string };

export type ChainBreak = {
  eventId: string;
  seq: bigint;
  reason: 'SEQUENCE_GAP' | 'BROKEN_LINK' | 'HASH_MISMATCH';
};

/**
 * Checks events given in seq order, continuing from (expectedSeq, prevHash). Returns the
 * first break: a gap (deleted row), a link that does not point at its predecessor
 * (reordered or deleted row), or a hash that does not match the content (modified row).
 */
export function findBreak(
  events: StoredEvent[],
  start: { expectedSeq: bigint; prevHash: string },
): { brk: ChainBreak | null; next: { expectedSeq: bigint; prevHash: string } } {
  let { expectedSeq, prevHash } = start;
  for (const e of events) {
    if (e.seq !== expectedSeq) return { brk: { eventId: e.id, seq: e.seq, reason: 'SEQUENCE_GAP' }, next: { expectedSeq, prevHash } };
    if (e.prevHash !== prevHash) return { brk: { eventId: e.id, seq: e.seq, reason: 'BROKEN_LINK' }, next: { expectedSeq, prevHash } };
    if (chainHash(e.prevHash, e) !== e.hash) {
      return { brk: { eventId: e.id, seq: e.seq, reason: 'HASH_MISMATCH' }, next: { expectedSeq, prevHash } };
    }
    expectedSeq = e.seq + 1n;
    prevHash = e.hash;
  }
  return { brk: null, next: { expectedSeq, prevHash } };
}
