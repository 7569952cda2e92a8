import { GENESIS_HASH, canonicalJson, chainHash, findBreak, type StoredEvent } from './audit-chain';
import { at } from '../../test/helpers/present';

const event = (seq: bigint, prevHash: string, payload: Record<string, unknown> = { n: Number(seq) }): StoredEvent => {
  const base = {
    id: `00000000-0000-4000-8000-${seq.toString().padStart(12, '0')}`,
    tenantId: '11111111-1111-4111-8111-111111111111',
    seq,
    eventType: 'x.happened',
    actorId: null,
    subjectType: 'Thing',
    subjectId: 't',
    payload,
    createdAt: new Date(Date.UTC(2026, 10, 25, 0, 0, Number(seq))),
  };
  return { ...base, prevHash, hash: chainHash(prevHash, base) };
};

const chain = (n: number): StoredEvent[] => {
  const out: StoredEvent[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1n; i <= BigInt(n); i++) {
    const e = event(i, prev);
    out.push(e);
    prev = e.hash;
  }
  return out;
};

describe('audit chain', () => {
  it('canonical JSON ignores key order and serialises bigint and dates stably', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 2n } })).toBe(canonicalJson({ a: { c: 2n, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ at: new Date(0), skip: undefined })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it('accepts an intact chain', () => {
    expect(findBreak(chain(5), { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toBeNull();
  });

  it('names a modified event', () => {
    const c = chain(5);
    c[2] = { ...at(c, 2, 'chain'), payload: { n: 999 } };
    expect(findBreak(c, { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toEqual({ eventId: at(c, 2, 'chain').id, seq: 3n, reason: 'HASH_MISMATCH' });
  });

  it('names the event after a deleted one', () => {
    const c = chain(5);
    c.splice(1, 1);
    expect(findBreak(c, { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toEqual({ eventId: at(c, 1, 'chain').id, seq: 3n, reason: 'SEQUENCE_GAP' });
  });

  it('names the first of two reordered events', () => {
    const c = chain(5);
    const [a, b] = [at(c, 1, 'chain'), at(c, 2, 'chain')];
    c[1] = { ...b, seq: 2n };
    c[2] = { ...a, seq: 3n };
    expect(findBreak(c, { expectedSeq: 1n, prevHash: GENESIS_HASH }).brk).toEqual({ eventId: b.id, seq: 2n, reason: 'BROKEN_LINK' });
  });
});
