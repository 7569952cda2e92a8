import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../audit-chain';
import { AmlReason, amlError } from './errors';

/**
 * Daily anchoring of the audit chains. Each day one document lists every tenant's chain head
 * {tenantId, lastSeq, lastHash}; its canonical JSON (keys sorted, tenants sorted) is signed with
 * Ed25519 and exported to object storage, out of the database's reach. Verification checks a
 * tenant's chain against every anchor that names it: a head below an anchored seq, or an
 * anchored seq whose row is gone, is a truncated tail; an anchored seq with another hash is a
 * rewritten history; an anchored tenant missing from a later anchor, or a later anchor with a
 * lower seq, means the chain was cut before that anchor was taken.
 */

export type ChainHead = { tenantId: string; lastSeq: bigint; lastHash: string };

export type AnchorDocument = {
  version: 1;
  /** The UTC day the anchor covers, YYYY-MM-DD. */
  date: string;
  createdAt: string;
  keyId: string;
  heads: { tenantId: string; lastSeq: string; lastHash: string }[];
};

export type SignedAnchor = { document: AnchorDocument; digest: string; signature: string };

export type KeyRing = Readonly<Record<string, KeyObject>>;

const HASH = /^[0-9a-f]{64}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** The key id: the first 16 hex digits of SHA-256 over the public key's SPKI DER. */
export function anchorKeyId(publicKey: KeyObject): string {
  return sha256(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** A fresh signing key pair; the private key belongs in the secret store, the public one in the key ring. */
export function generateAnchorKeyPair(): { privateKey: KeyObject; publicKey: KeyObject; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: anchorKeyId(publicKey) };
}

export function buildAnchorDocument(input: { date: string; createdAt: Date; heads: readonly ChainHead[]; keyId: string }): AnchorDocument {
  if (!DATE.test(input.date)) throw amlError(AmlReason.INVALID_ANCHOR, 'anchor date must be YYYY-MM-DD', { field: 'date' });
  const seen = new Set<string>();
  for (const h of input.heads) {
    if (seen.has(h.tenantId)) throw amlError(AmlReason.INVALID_ANCHOR, `tenant ${h.tenantId} appears twice`, { field: 'heads' });
    seen.add(h.tenantId);
    if (typeof h.lastSeq !== 'bigint' || h.lastSeq < 0n || !HASH.test(h.lastHash)) {
      throw amlError(AmlReason.INVALID_ANCHOR, `tenant ${h.tenantId} has a malformed head`, { field: 'heads' });
    }
  }
  const heads = [...input.heads]
    .sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0))
    .map((h) => ({ tenantId: h.tenantId, lastSeq: h.lastSeq.toString(), lastHash: h.lastHash }));
  return { version: 1, date: input.date, createdAt: input.createdAt.toISOString(), keyId: input.keyId, heads };
}

export function signAnchor(document: AnchorDocument, privateKey: KeyObject): SignedAnchor {
  const expected = anchorKeyId(createPublicKey(privateKey));
  if (document.keyId !== expected) throw amlError(AmlReason.INVALID_ANCHOR, 'the document names another key than the one signing it', { field: 'keyId' });
  const bytes = Buffer.from(canonicalJson(document));
  return { document, digest: sha256(bytes), signature: sign(null, bytes, privateKey).toString('base64') };
}

/** Where the anchor is stored in object storage (one immutable object per day). */
export function anchorObjectKey(document: AnchorDocument): string {
  return `audit-anchors/${document.date}/${document.keyId}.json`;
}

export type AnchorCheck = { ok: true } | { ok: false; reason: 'UNKNOWN_KEY' | 'DIGEST_MISMATCH' | 'BAD_SIGNATURE' | 'MALFORMED' };

export function verifyAnchor(anchor: SignedAnchor, keyRing: KeyRing): AnchorCheck {
  const doc = anchor?.document;
  if (!doc || doc.version !== 1 || !Array.isArray(doc.heads) || typeof anchor.signature !== 'string') return { ok: false, reason: 'MALFORMED' };
  const key = keyRing[doc.keyId];
  if (!key) return { ok: false, reason: 'UNKNOWN_KEY' };
  const bytes = Buffer.from(canonicalJson(doc));
  if (sha256(bytes) !== anchor.digest) return { ok: false, reason: 'DIGEST_MISMATCH' };
  let good = false;
  try {
    good = verify(null, bytes, key, Buffer.from(anchor.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, reason: 'BAD_SIGNATURE' };
}

export type AnchorProblem =
  | { kind: 'ANCHOR_INVALID'; anchorDate: string; reason: string }
  | { kind: 'TRUNCATED'; anchorDate: string; anchoredSeq: bigint; headSeq: bigint }
  | { kind: 'HASH_MISMATCH'; anchorDate: string; seq: bigint; anchoredHash: string; chainHash: string }
  | { kind: 'ANCHOR_REGRESSION'; anchorDate: string; seq: bigint; earlierAnchorDate: string; earlierSeq: bigint }
  | { kind: 'TENANT_MISSING'; anchorDate: string; lastSeenAnchorDate: string };

export type ChainAnchorVerification = { ok: boolean; anchorsChecked: number; problems: AnchorProblem[] };

/** The seqs whose hashes verification needs for a tenant: load them in one query. */
export function anchoredSeqs(anchors: readonly SignedAnchor[], tenantId: string): bigint[] {
  const seqs = new Set<bigint>();
  for (const a of anchors) for (const h of a.document?.heads ?? []) if (h.tenantId === tenantId) seqs.add(BigInt(h.lastSeq));
  return [...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Checks one tenant's chain (its current head and a lookup of the stored hash at a seq, null
 * when no row has it) against the anchors, oldest first. The chain's internal links are
 * checked by findBreak; this catches what links cannot: a deleted tail.
 */
export function verifyChainAgainstAnchors(input: {
  tenantId: string;
  head: { lastSeq: bigint; lastHash: string };
  hashAt: (seq: bigint) => string | null;
  anchors: readonly SignedAnchor[];
  keyRing: KeyRing;
}): ChainAnchorVerification {
  const problems: AnchorProblem[] = [];
  const anchors = [...input.anchors].sort((a, b) => (a.document?.date < b.document?.date ? -1 : a.document?.date > b.document?.date ? 1 : 0));
  let checked = 0;
  let last: { date: string; seq: bigint } | null = null;
  for (const a of anchors) {
    const date = a.document?.date ?? '?';
    const check = verifyAnchor(a, input.keyRing);
    if (!check.ok) {
      problems.push({ kind: 'ANCHOR_INVALID', anchorDate: date, reason: check.reason });
      continue;
    }
    checked++;
    const entry = a.document.heads.find((h) => h.tenantId === input.tenantId);
    if (!entry) {
      if (last) problems.push({ kind: 'TENANT_MISSING', anchorDate: date, lastSeenAnchorDate: last.date });
      continue;
    }
    const seq = BigInt(entry.lastSeq);
    if (last && seq < last.seq) problems.push({ kind: 'ANCHOR_REGRESSION', anchorDate: date, seq, earlierAnchorDate: last.date, earlierSeq: last.seq });
    if (input.head.lastSeq < seq) {
      problems.push({ kind: 'TRUNCATED', anchorDate: date, anchoredSeq: seq, headSeq: input.head.lastSeq });
    } else {
      const stored = seq === input.head.lastSeq ? input.head.lastHash : input.hashAt(seq);
      if (stored === null) problems.push({ kind: 'TRUNCATED', anchorDate: date, anchoredSeq: seq, headSeq: input.head.lastSeq });
      else if (stored !== entry.lastHash) problems.push({ kind: 'HASH_MISMATCH', anchorDate: date, seq, anchoredHash: entry.lastHash, chainHash: stored });
    }
    if (!last || seq >= last.seq) last = { date, seq };
  }
  return { ok: problems.length === 0, anchorsChecked: checked, problems };
}
