import { createHash, randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { IsolationLevel, TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { complianceEntities } from '../../subgraphs/compliance';
import { GENESIS_HASH, canonicalJson, chainHash, type ChainFields } from '../../subgraphs/compliance/audit-chain';
import { appendAuditEvent, verifyAuditChain, type Verification } from '../../subgraphs/compliance/audit.service';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * The per-tenant audit hash chain against real PostgreSQL: appends through the app role inside
 * TenantTransactions.run, tampering through the owner (a superuser, as an attacker with database access would be).
 */

/** Raw SQL on one connection (the owner's, here). */
type Sql = Pick<AbstractSqlConnection, 'execute'>;
type Link = { id: string; seq: bigint; prevHash: string; hash: string };
type StoredRow = { id: string; seq: string; prev_hash: string; hash: string };

describe('canonicalJson and chainHash', () => {
  it('gives the same text for the same facts whatever the key order, at every depth', () => {
    const a = { b: 1, a: { d: [3, { y: 1, x: 2 }], c: null }, 'é': 'ü', A: true };
    const b = { A: true, a: { c: null, d: [3, { x: 2, y: 1 }] }, 'é': 'ü', b: 1 };
    expect(canonicalJson(a)).toBe('{"A":true,"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1,"é":"ü"}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('keeps array order significant and tells different values apart', () => {
    expect(canonicalJson({ v: [1, 2] })).not.toBe(canonicalJson({ v: [2, 1] }));
    expect(canonicalJson({ v: '1' })).not.toBe(canonicalJson({ v: 1 }));
    expect(canonicalJson({ v: null })).not.toBe(canonicalJson({}));
  });

  it('drops undefined properties, writes dates as ISO-8601 and bigints as strings', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1], at: new Date('2026-01-02T03:04:05.678Z'), sats: 2_100_000_000_000_000n })).toBe(
      '{"at":"2026-01-02T03:04:05.678Z","b":[null,1],"sats":"2100000000000000"}',
    );
  });

  it('refuses non-finite numbers instead of hashing them as null', () => {
    expect(() => canonicalJson({ v: Number.NaN })).toThrow('non-finite number in audit payload');
    expect(() => canonicalJson({ v: [Number.POSITIVE_INFINITY] })).toThrow('non-finite number in audit payload');
  });

  it('hashes SHA-256(prev_hash ‖ canonical JSON of the event) and changes with any field', () => {
    const e: ChainFields = {
      id: '00000000-0000-4000-8000-000000000001',
      tenantId: '00000000-0000-4000-8000-0000000000aa',
      seq: 7n,
      eventType: 'purchase.filled',
      actorId: null,
      subjectType: 'purchase',
      subjectId: 'p-1',
      payload: { satoshis: '1500', audCents: '25000' },
      createdAt: new Date('2026-03-01T00:00:00.000Z'),
    };
    const body =
      '{"actorId":null,"createdAt":"2026-03-01T00:00:00.000Z","eventType":"purchase.filled","id":"00000000-0000-4000-8000-000000000001",' +
      '"payload":{"audCents":"25000","satoshis":"1500"},"seq":"7","subjectId":"p-1","subjectType":"purchase","tenantId":"00000000-0000-4000-8000-0000000000aa"}';
    const expected = createHash('sha256').update(GENESIS_HASH + body).digest('hex');
    expect(chainHash(GENESIS_HASH, e)).toBe(expected);
    expect(chainHash(GENESIS_HASH, { ...e, payload: { audCents: '25000', satoshis: '1500' } })).toBe(expected);
    expect(chainHash('1'.repeat(64), e)).not.toBe(expected);
    expect(chainHash(GENESIS_HASH, { ...e, seq: 8n })).not.toBe(expected);
    expect(chainHash(GENESIS_HASH, { ...e, payload: { satoshis: '1501', audCents: '25000' } })).not.toBe(expected);
    expect(chainHash(GENESIS_HASH, { ...e, createdAt: new Date('2026-03-01T00:00:00.001Z') })).not.toBe(expected);
  });
});

describe('the audit hash chain in PostgreSQL (app role, TenantTransactions)', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let directory: TenantDirectory;
  let txs: TenantTransactions;
  let owner: Sql;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, complianceEntities, 5);
    directory = new TenantDirectory(app);
    txs = new TenantTransactions(app, directory);
  });

  afterAll(async () => {
    await app?.close(true);
    await db?.drop();
  });

  async function newTenant(name: string): Promise<string> {
    const id = randomUUID();
    await owner.execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    return id;
  }

  const T0 = Date.parse('2026-02-01T00:00:00.000Z');

  /** Appends one event; the payload's keys are deliberately out of order (jsonb reorders them). */
  async function append(tenantId: string, n: number, id: string = randomUUID(), payload?: Record<string, unknown>): Promise<Link> {
    const e = await txs.run(tenantId, ({ em }) =>
      appendAuditEvent(em, {
        id,
        tenantId,
        eventType: 'purchase.filled',
        actorId: n % 2 === 0 ? null : '00000000-0000-4000-8000-00000000beef',
        subjectType: 'purchase',
        subjectId: `purchase-${n}`,
        payload: payload ?? { zeta: n, alpha: { longer_key: [n, 'x'], k: `v${n}` }, audCents: String(2500 * n) },
        occurredAt: new Date(T0 + n * 1000),
      }),
    );
    return { id: e.id, seq: e.seq, prevHash: e.prevHash, hash: e.hash };
  }

  async function chainOf(tenantId: string, length: number): Promise<Link[]> {
    const links: Link[] = [];
    for (let n = 1; n <= length; n++) links.push(await append(tenantId, n));
    return links;
  }

  const verify = (tenantId: string): Promise<Verification> =>
    txs.run(tenantId, ({ em }) => verifyAuditChain(em, tenantId));

  const stored = (tenantId: string): Promise<StoredRow[]> =>
    owner.execute<StoredRow[]>(`select e.id::text, e.seq::text, e.prev_hash, e.hash from pool.audit_event e where e.tenant_id = ? order by e.seq`, [
      tenantId,
    ]);

  const head = (tenantId: string): Promise<{ last_seq: string; last_hash: string }[]> =>
    owner.execute(`select last_seq::text, last_hash from pool.audit_head where tenant_id = ?`, [tenantId]);

  const valid = (eventsChecked: number): Verification => ({ valid: true, eventsChecked, firstBad: null });

  describe('appending', () => {
    it('links five events from the genesis hash, each hash recomputable, and verifies them', async () => {
      const t = await newTenant('Chain Co');
      const links = await chainOf(t, 5);
      expect(links.map((l) => l.seq)).toEqual([1n, 2n, 3n, 4n, 5n]);
      expect(links.map((l) => l.prevHash)).toEqual([GENESIS_HASH, ...links.slice(0, 4).map((l) => l.hash)]);
      expect(new Set(links.map((l) => l.hash)).size).toBe(5);
      for (const l of links) expect(l.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await stored(t)).toEqual(links.map((l) => ({ id: l.id, seq: String(l.seq), prev_hash: l.prevHash, hash: l.hash })));
      expect(await head(t)).toEqual([{ last_seq: '5', last_hash: at(links, 4, 'chain').hash }]);
      // Independently: the third event's stored hash is SHA-256(prev ‖ canonical JSON) of what is stored.
      const row = at(await owner.execute<
        { event_type: string; actor_id: string | null; subject_type: string; subject_id: string; payload: Record<string, unknown>; created_at: Date }[]
      >(`select event_type, actor_id::text, subject_type, subject_id, payload, created_at from pool.audit_event where id = ?`, [at(links, 2, 'chain').id]), 0, 'row');
      const body = canonicalJson({
        id: at(links, 2, 'chain').id,
        tenantId: t,
        seq: '3',
        eventType: row.event_type,
        actorId: row.actor_id,
        subjectType: row.subject_type,
        subjectId: row.subject_id,
        payload: row.payload,
        createdAt: new Date(row.created_at).toISOString(),
      });
      expect(createHash('sha256').update(at(links, 1, 'chain').hash).update(body).digest('hex')).toBe(at(links, 2, 'chain').hash);
      expect(await verify(t)).toEqual(valid(5));
    });

    it('stores a payload with dates exactly as it hashed them, so the chain verifies', async () => {
      const t = await newTenant('Dates Co');
      const when = new Date('2026-02-03T04:05:06.789Z');
      await append(t, 1, randomUUID(), { filledAt: when, nested: { at: when, list: [when] } });
      const row = at(await owner.execute<{ payload: unknown }[]>(`select payload from pool.audit_event where tenant_id = ?`, [t]), 0, 'row');
      expect(row.payload).toEqual({ filledAt: when.toISOString(), nested: { at: when.toISOString(), list: [when.toISOString()] } });
      expect(await verify(t)).toEqual(valid(1));
    });

    it('accepts money as bigint in a payload (canonicalJson hashes bigints as strings) and verifies it', async () => {
      // Amounts are bigint everywhere (DESIGN: "Money never touches a float"), and canonicalJson
      // hashes a bigint as its decimal string, so the stored payload must hold that same string.
      const t = await newTenant('Bigint Co');
      const link = await append(t, 1, randomUUID(), { audCents: 2_500_00n, satoshis: 123_456_789n });
      expect(link.seq).toBe(1n);
      const row = at(await owner.execute<{ payload: unknown }[]>(`select payload from pool.audit_event where tenant_id = ?`, [t]), 0, 'row');
      expect(row.payload).toEqual({ audCents: '250000', satoshis: '123456789' });
      expect(await verify(t)).toEqual(valid(1));
    });

    it('verifies an empty chain as valid with nothing checked', async () => {
      const t = await newTenant('Empty Co');
      expect(await verify(t)).toEqual(valid(0));
      expect(await head(t)).toEqual([]);
    });

    it('appends the same event id once, even when replayed with different content', async () => {
      const t = await newTenant('Replay Co');
      await chainOf(t, 2);
      const id = randomUUID();
      const first = await append(t, 3, id, { amount: '100' });
      const again = await append(t, 3, id, { amount: '100' });
      const changed = await append(t, 4, id, { amount: '999' });
      expect(again).toEqual(first);
      expect(changed).toEqual(first);
      expect((await stored(t)).map((r) => r.seq)).toEqual(['1', '2', '3']);
      expect(await owner.execute(`select payload from pool.audit_event where id = ?`, [id])).toEqual([{ payload: { amount: '100' } }]);
      expect(await head(t)).toEqual([{ last_seq: '3', last_hash: first.hash }]);
      expect(await verify(t)).toEqual(valid(3));
    });

    it('appends an event id replayed concurrently exactly once', async () => {
      const t = await newTenant('Concurrent Replay Co');
      const id = randomUUID();
      const results = await Promise.all(Array.from({ length: 8 }, () => append(t, 1, id)));
      expect(new Set(results.map((r) => r.hash)).size).toBe(1);
      expect((await stored(t)).map((r) => [r.id, r.seq])).toEqual([[id, '1']]);
      expect(await verify(t)).toEqual(valid(1));
    });

    it('serializes 20 concurrent appends for one tenant into seq 1..20 with no gaps and a valid chain', async () => {
      const t = await newTenant('Busy Co');
      const ids = Array.from({ length: 20 }, () => randomUUID());
      const links = await Promise.all(ids.map((id, i) => append(t, i + 1, id)));
      expect(links.map((l) => l.seq).sort((a, b) => (a < b ? -1 : 1))).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
      const rows = await stored(t);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
      expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(rows.map((r) => r.prev_hash)).toEqual([GENESIS_HASH, ...rows.slice(0, 19).map((r) => r.hash)]);
      expect(await head(t)).toEqual([{ last_seq: '20', last_hash: at(rows, 19, 'rows').hash }]);
      expect(await verify(t)).toEqual(valid(20));
    });

    it("keeps two tenants' chains independent, even when they append at the same time", async () => {
      const [x, y] = [await newTenant('Chain X'), await newTenant('Chain Y')];
      await Promise.all([1, 2, 3, 4].flatMap((n) => [append(x, n), append(y, n)]));
      const [rx, ry] = [await stored(x), await stored(y)];
      expect(rx.map((r) => r.seq)).toEqual(['1', '2', '3', '4']);
      expect(ry.map((r) => r.seq)).toEqual(['1', '2', '3', '4']);
      expect([at(rx, 0, 'x chain').prev_hash, at(ry, 0, 'y chain').prev_hash]).toEqual([GENESIS_HASH, GENESIS_HASH]);
      expect(rx.map((r) => r.hash).filter((h) => ry.some((s) => s.hash === h))).toEqual([]);
      expect(await verify(x)).toEqual(valid(4));
      expect(await verify(y)).toEqual(valid(4));
      // Inside X's transaction, Y's chain is invisible: nothing to check.
      expect(await txs.run(x, ({ em }) => verifyAuditChain(em, y))).toEqual(valid(0));
    });

    it("refuses to append to another tenant's chain from inside a tenant's transaction, and changes nothing", async () => {
      const [x, y] = [await newTenant('Owner X'), await newTenant('Victim Y')];
      await chainOf(y, 2);
      const before = await stored(y);
      await expect(
        txs.run(x, ({ em }) =>
          appendAuditEvent(em, {
            id: randomUUID(),
            tenantId: y,
            eventType: 'forged',
            actorId: null,
            subjectType: 'tenant',
            subjectId: y,
            payload: {},
            occurredAt: new Date(),
          }),
        ),
      ).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('new row violates row-level security policy for table "audit_head"') });
      expect(await stored(y)).toEqual(before);
      expect(await stored(x)).toEqual([]);
      expect(await verify(y)).toEqual(valid(2));
    });

    it('denies the app role rewriting or deleting its own audit events (42501)', async () => {
      const t = await newTenant('Honest Co');
      const links = await chainOf(t, 2);
      const as = (sql: string) => txs.run(t, ({ em }) => em.execute(sql, [at(links, 0, 'chain').id]));
      await expect(as(`update audit_event set payload = '{"forged":true}' where id = ?`)).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('permission denied for table audit_event'),
      });
      await expect(as(`delete from audit_event where id = ?`)).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('permission denied for table audit_event'),
      });
      expect(await verify(t)).toEqual(valid(2));
    });
  });

  describe('verifying while appends commit', () => {
    /** An append that has written its event and the head but waits for `commit()` before committing. */
    function heldAppend(tenantId: string, n: number): { written: Promise<void>; commit: () => Promise<void> } {
      let written!: () => void;
      let release!: () => void;
      const writtenP = new Promise<void>((r) => (written = r));
      const released = new Promise<void>((r) => (release = r));
      const done = txs.run(tenantId, async ({ em }) => {
        await appendAuditEvent(em, {
          id: randomUUID(),
          tenantId,
          eventType: 'purchase.filled',
          actorId: null,
          subjectType: 'purchase',
          subjectId: `purchase-${n}`,
          payload: { n },
          occurredAt: new Date(T0 + n * 1000),
        });
        written();
        await released;
      });
      return {
        written: writtenP,
        commit: async () => {
          release();
          await done;
        },
      };
    }

    /** The em as verification sees it, with `onEmptyBatch` run once, the first time a batch read finds nothing more. */
    function pausing(em: EntityManager, onEmptyBatch: () => Promise<void>): EntityManager {
      let fired = false;
      return new Proxy(em, {
        get(target, prop, receiver) {
          if (prop !== 'find') return Reflect.get(target, prop, receiver) as unknown;
          return async (...args: Parameters<EntityManager['find']>) => {
            const rows = await target.find(...args);
            if (rows.length === 0 && !fired) {
              fired = true;
              await onEmptyBatch();
            }
            return rows;
          };
        },
      });
    }

    it.each([
      ['READ COMMITTED', undefined],
      ['REPEATABLE READ', IsolationLevel.REPEATABLE_READ],
    ])('an append committing between the last event read and the head read is no SEQUENCE_GAP (%s)', async (_name, isolation) => {
      const t = await newTenant(`Race Co ${String(isolation)}`);
      await chainOf(t, 3);
      const held = heldAppend(t, 4);
      await held.written;
      // Forced race: the walk has read every committed event; the fourth commits before the head is read.
      const v = await txs.run(t, ({ em }) => verifyAuditChain(pausing(em, held.commit), t), { isolation });
      expect(v.firstBad).toBeNull();
      expect(v.valid).toBe(true);
      expect([3, 4]).toContain(v.eventsChecked);
      expect(await verify(t)).toEqual(valid(4));
    });

    it('still reports a truncated tail as SEQUENCE_GAP when appends commit during the check', async () => {
      const t = await newTenant('Race Tamper Co');
      await chainOf(t, 3);
      await owner.execute(`delete from pool.audit_event where tenant_id = ? and seq = 3`, [t]);
      const held = heldAppend(t, 4);
      await held.written;
      const v = await txs.run(t, ({ em }) => verifyAuditChain(pausing(em, held.commit), t));
      expect(v.valid).toBe(false);
      expect(v.firstBad?.reason).toBe('SEQUENCE_GAP');
    });

    it('never reports tampering while appends run in parallel with repeated verification', async () => {
      const t = await newTenant('Busy Verify Co');
      await chainOf(t, 2);
      let appending = true;
      const appender = (async () => {
        for (let n = 3; n < 43; n++) await append(t, n);
        appending = false;
      })();
      const results: Verification[] = [];
      while (appending) results.push(await verify(t));
      await appender;
      expect(results.length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.valid)).toEqual([]);
      expect(await verify(t)).toEqual(valid(42));
    });
  });

  describe('tampering through the owner connection is detected', () => {
    it('an edited payload: HASH_MISMATCH at that event', async () => {
      const t = await newTenant('Tamper Payload');
      const links = await chainOf(t, 5);
      await owner.execute(`update pool.audit_event set payload = jsonb_set(payload, '{audCents}', '"1"') where tenant_id = ? and seq = 3`, [t]);
      expect(await verify(t)).toEqual({
        valid: false,
        eventsChecked: 2,
        firstBad: { eventId: at(links, 2, 'chain').id, seq: 3n, reason: 'HASH_MISMATCH' },
      });
    });

    it('an edited event whose own hash was recomputed: BROKEN_LINK at the next event', async () => {
      const t = await newTenant('Tamper Rehash');
      const links = await chainOf(t, 5);
      const row = at(await owner.execute<
        { event_type: string; actor_id: string | null; subject_type: string; subject_id: string; payload: Record<string, unknown>; created_at: Date }[]
      >(`select event_type, actor_id::text, subject_type, subject_id, payload, created_at from pool.audit_event where id = ?`, [at(links, 2, 'chain').id]), 0, 'row');
      const forgedPayload = { ...row.payload, audCents: '1' };
      const forgedHash = chainHash(at(links, 2, 'chain').prevHash, {
        id: at(links, 2, 'chain').id,
        tenantId: t,
        seq: 3n,
        eventType: row.event_type,
        actorId: row.actor_id,
        subjectType: row.subject_type,
        subjectId: row.subject_id,
        payload: forgedPayload,
        createdAt: new Date(row.created_at),
      });
      await owner.execute(`update pool.audit_event set payload = ?::jsonb, hash = ? where id = ?`, [
        JSON.stringify(forgedPayload),
        forgedHash,
        at(links, 2, 'chain').id,
      ]);
      expect(await verify(t)).toEqual({
        valid: false,
        eventsChecked: 3,
        firstBad: { eventId: at(links, 3, 'chain').id, seq: 4n, reason: 'BROKEN_LINK' },
      });
    });

    it('a deleted middle event: SEQUENCE_GAP naming the event after the gap', async () => {
      const t = await newTenant('Tamper Delete');
      const links = await chainOf(t, 5);
      await owner.execute(`delete from pool.audit_event where tenant_id = ? and seq = 3`, [t]);
      expect(await verify(t)).toEqual({
        valid: false,
        eventsChecked: 2,
        firstBad: { eventId: at(links, 3, 'chain').id, seq: 4n, reason: 'SEQUENCE_GAP' },
      });
    });

    it('two adjacent events swapped: BROKEN_LINK naming the first moved event', async () => {
      const t = await newTenant('Tamper Reorder');
      const links = await chainOf(t, 5);
      // Swap seq 2 and 3 through a temporary (positive, unused) seq to dodge unique (tenant_id, seq).
      await owner.execute(`update pool.audit_event set seq = 1000000 where tenant_id = ? and seq = 2`, [t]);
      await owner.execute(`update pool.audit_event set seq = 2 where tenant_id = ? and seq = 3`, [t]);
      await owner.execute(`update pool.audit_event set seq = 3 where tenant_id = ? and seq = 1000000`, [t]);
      expect((await stored(t)).map((r) => r.id)).toEqual([at(links, 0, 'chain').id, at(links, 2, 'chain').id, at(links, 1, 'chain').id, at(links, 3, 'chain').id, at(links, 4, 'chain').id]);
      expect(await verify(t)).toEqual({
        valid: false,
        eventsChecked: 1,
        firstBad: { eventId: at(links, 2, 'chain').id, seq: 2n, reason: 'BROKEN_LINK' },
      });
    });

    it('a deleted last event: invalid, because audit_head still remembers it', async () => {
      const t = await newTenant('Tamper Tail');
      await chainOf(t, 5);
      await owner.execute(`delete from pool.audit_event where tenant_id = ? and seq = 5`, [t]);
      expect(await verify(t)).toEqual({
        valid: false,
        eventsChecked: 4,
        firstBad: { eventId: '', seq: 5n, reason: 'SEQUENCE_GAP' },
      });
    });

    it("leaves other tenants' chains valid when one tenant's chain is tampered with", async () => {
      const [bad, good] = [await newTenant('Tampered'), await newTenant('Untouched')];
      await chainOf(bad, 3);
      await chainOf(good, 3);
      await owner.execute(`update pool.audit_event set subject_id = 'rewritten' where tenant_id = ? and seq = 1`, [bad]);
      expect((await verify(bad)).valid).toBe(false);
      expect(await verify(good)).toEqual(valid(3));
    });
  });
});
