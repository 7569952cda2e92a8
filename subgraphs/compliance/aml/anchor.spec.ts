import { createHash } from 'node:crypto';
import { at } from '../../../test/helpers/present';
import { GENESIS_HASH, canonicalJson, chainHash, findBreak, type StoredEvent } from '../audit-chain';
import {
  anchorObjectKey,
  anchoredSeqs,
  buildAnchorDocument,
  generateAnchorKeyPair,
  signAnchor,
  verifyAnchor,
  verifyChainAgainstAnchors,
  type ChainHead,
  type KeyRing,
  type SignedAnchor,
} from './anchor';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

function chain(tenantId: string, n: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1n; i <= BigInt(n); i++) {
    const base = { id: `${tenantId.slice(0, 8)}-${i}`, tenantId, seq: i, eventType: 'purchase.filled', actorId: null, subjectType: 'Purchase', subjectId: `p${i}`, payload: { i: Number(i) }, createdAt: new Date(Date.UTC(2026, 3, Number(i))) };
    const e = { ...base, prevHash: prev, hash: chainHash(prev, base) };
    out.push(e);
    prev = e.hash;
  }
  return out;
}
const headOf = (events: StoredEvent[]): { lastSeq: bigint; lastHash: string } => ({ lastSeq: events.at(-1)?.seq ?? 0n, lastHash: events.at(-1)?.hash ?? GENESIS_HASH });
const lookup = (events: StoredEvent[]) => (seq: bigint) => events.find((e) => e.seq === seq)?.hash ?? null;

describe('daily audit anchors', () => {
  const key = generateAnchorKeyPair();
  const ring: KeyRing = { [key.keyId]: key.publicKey };
  const full1 = chain(T1, 10);
  const full2 = chain(T2, 4);
  const anchorOn = (date: string, heads: ChainHead[]): SignedAnchor =>
    signAnchor(buildAnchorDocument({ date, createdAt: new Date(`${date}T23:59:00Z`), heads, keyId: key.keyId }), key.privateKey);
  // Day 1: T1 at seq 6, T2 at seq 4; day 2: T1 at seq 10.
  const day1 = anchorOn('2026-04-06', [
    { tenantId: T2, ...headOf(full2), lastSeq: 4n },
    { tenantId: T1, lastSeq: 6n, lastHash: at(full1, 5).hash },
  ]);
  const day2 = anchorOn('2026-04-10', [
    { tenantId: T1, ...headOf(full1) },
    { tenantId: T2, ...headOf(full2) },
  ]);

  it('the document is canonical (tenants sorted), signed with Ed25519 and verifies with the key ring', () => {
    expect(day1.document.heads.map((h) => h.tenantId)).toEqual([T1, T2]);
    expect(at(day1.document.heads, 0)).toEqual({ tenantId: T1, lastSeq: '6', lastHash: at(full1, 5).hash });
    expect(verifyAnchor(day1, ring)).toEqual({ ok: true });
    expect(anchorObjectKey(day1.document)).toBe(`audit-anchors/2026-04-06/${key.keyId}.json`);
  });

  it('a forged or edited anchor, or one signed by a key not in the ring, fails', () => {
    const edited = { ...day1, document: { ...day1.document, heads: [{ ...at(day1.document.heads, 0), lastSeq: '5' }, at(day1.document.heads, 1)] } };
    expect(verifyAnchor(edited, ring)).toEqual({ ok: false, reason: 'DIGEST_MISMATCH' });
    const rehashed = { ...edited, digest: createHash('sha256').update(canonicalJson(edited.document)).digest('hex') };
    expect(verifyAnchor(rehashed, ring)).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
    const other = generateAnchorKeyPair();
    expect(verifyAnchor(day1, { [other.keyId]: other.publicKey })).toEqual({ ok: false, reason: 'UNKNOWN_KEY' });
    expect(() => signAnchor(day1.document, other.privateKey)).toThrow(/another key/);
  });

  it('an intact chain verifies against every anchor', () => {
    expect(anchoredSeqs([day1, day2], T1)).toEqual([6n, 10n]);
    const r = verifyChainAgainstAnchors({ tenantId: T1, head: headOf(full1), hashAt: lookup(full1), anchors: [day2, day1], keyRing: ring });
    expect(r).toEqual({ ok: true, anchorsChecked: 2, problems: [] });
  });

  it('a deleted tail passes the chain’s own link check but not the anchors', () => {
    const truncated = full1.slice(0, 8); // events 9 and 10 deleted
    expect(findBreak(truncated, { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toBeNull();
    const r = verifyChainAgainstAnchors({ tenantId: T1, head: headOf(truncated), hashAt: lookup(truncated), anchors: [day1, day2], keyRing: ring });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([{ kind: 'TRUNCATED', anchorDate: '2026-04-10', anchoredSeq: 10n, headSeq: 8n }]);
  });

  it('a tail deleted and regrown with other events is a HASH_MISMATCH at the anchored seq', () => {
    const regrown = [...full1.slice(0, 8)];
    let prev = at(regrown, 7).hash;
    for (let i = 9n; i <= 11n; i++) {
      const base = { ...at(full1, 0), id: `forged-${i}`, seq: i, payload: { forged: true } };
      const e = { ...base, prevHash: prev, hash: chainHash(prev, base) };
      regrown.push(e);
      prev = e.hash;
    }
    expect(findBreak(regrown, { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toBeNull();
    const r = verifyChainAgainstAnchors({ tenantId: T1, head: headOf(regrown), hashAt: lookup(regrown), anchors: [day1, day2], keyRing: ring });
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'HASH_MISMATCH', anchorDate: '2026-04-10', seq: 10n, anchoredHash: at(full1, 9).hash })]);
  });

  it('a chain cut before an anchor was taken: the later anchor regresses, or the tenant vanishes from it', () => {
    const day3 = anchorOn('2026-04-11', [{ tenantId: T1, lastSeq: 7n, lastHash: at(full1, 6).hash }]);
    const r = verifyChainAgainstAnchors({ tenantId: T1, head: headOf(full1.slice(0, 7)), hashAt: lookup(full1), anchors: [day1, day2, day3], keyRing: ring });
    expect(r.problems.map((p) => p.kind)).toEqual(['TRUNCATED', 'ANCHOR_REGRESSION']);
    const gone = verifyChainAgainstAnchors({ tenantId: T2, head: headOf(full2), hashAt: lookup(full2), anchors: [day1, day2, day3], keyRing: ring });
    expect(gone.problems).toEqual([{ kind: 'TENANT_MISSING', anchorDate: '2026-04-11', lastSeenAnchorDate: '2026-04-10' }]);
  });

  it('an anchor that fails its signature is reported, not trusted', () => {
    const bad = { ...day2, signature: Buffer.alloc(64).toString('base64') };
    const r = verifyChainAgainstAnchors({ tenantId: T1, head: headOf(full1), hashAt: lookup(full1), anchors: [day1, bad], keyRing: ring });
    expect(r).toMatchObject({ ok: false, anchorsChecked: 1, problems: [{ kind: 'ANCHOR_INVALID', reason: 'BAD_SIGNATURE' }] });
  });

  it('a malformed head or a duplicated tenant is refused when building', () => {
    expect(() => buildAnchorDocument({ date: '2026-04-06', createdAt: new Date(), keyId: key.keyId, heads: [{ tenantId: T1, lastSeq: 1n, lastHash: 'nothex' }] })).toThrow(/malformed/);
    expect(() =>
      buildAnchorDocument({ date: '2026-04-06', createdAt: new Date(), keyId: key.keyId, heads: [{ tenantId: T1, ...headOf(full1) }, { tenantId: T1, ...headOf(full1) }] }),
    ).toThrow(/twice/);
  });
});
