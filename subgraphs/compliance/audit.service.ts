import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../../lib/errors';
import { recordSecurityEvent } from '../../lib/metrics';
import { AuditEvent, AuditHead } from './audit-event.entity';
import { GENESIS_HASH, canonicalJson, chainHash, findBreak, type ChainBreak } from './audit-chain';

export type AppendInput = {
  id: string;
  tenantId: string;
  eventType: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
};

/**
 * Appends one event to the tenant's chain inside the caller's tenant transaction. Idempotent
 * by event id (a replayed job appends nothing); the head row serializes concurrent appends.
 */
export async function appendAuditEvent(em: EntityManager, input: AppendInput): Promise<AuditEvent> {
  const existing = await em.findOne(AuditEvent, { tenantId: input.tenantId, id: input.id });
  if (existing) return existing;
  const head = await lockAuditHead(em, input.tenantId);
  const again = await em.findOne(AuditEvent, { tenantId: input.tenantId, id: input.id });
  if (again) return again;
  const event = em.create(AuditEvent, {
    tenantId: input.tenantId,
    id: input.id,
    seq: head.lastSeq + 1n,
    eventType: input.eventType,
    actorId: input.actorId,
    subjectType: input.subjectType,
    subjectId: input.subjectId,
    // Store exactly what is hashed (bigints as strings, no undefined), so verification can recompute it.
    payload: JSON.parse(canonicalJson(input.payload)) as Record<string, unknown>,
    createdAt: input.occurredAt,
    prevHash: head.lastHash,
    hash: '',
  });
  event.hash = chainHash(event.prevHash, event);
  head.lastSeq = event.seq;
  head.lastHash = event.hash;
  head.updatedAt = new Date();
  await em.flush();
  return event;
}

/**
 * Takes the tenant's chain head for update (creating it at the genesis hash), held to commit: every
 * append of this tenant waits for it, so facts read after it are read by one appender at a time.
 */
export async function lockAuditHead(em: EntityManager, tenantId: string): Promise<AuditHead> {
  await em.execute(`insert into audit_head (tenant_id, last_seq, last_hash) values (?, 0, ?) on conflict (tenant_id) do nothing`, [tenantId, GENESIS_HASH]);
  return em.findOneOrFail(AuditHead, { tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
}

export type AuditPage = { events: AuditEvent[]; hasNextPage: boolean; totalCount: number };

const MAX_PAGE = 200;

/** Events in chain order after an optional cursor (the seq of the last event seen). */
export async function listAuditEvents(em: EntityManager, tenantId: string, first: number, after?: string): Promise<AuditPage> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be between 1 and ${MAX_PAGE}`, 'first');
  let afterSeq = 0n;
  if (after !== undefined && after !== null) {
    if (!/^\d{1,18}$/.test(after)) throw badInput('after is not a valid cursor', 'after');
    afterSeq = BigInt(after);
  }
  const rows = await em.find(
    AuditEvent,
    { tenantId, seq: { $gt: afterSeq } },
    { orderBy: { seq: 'asc' }, limit: first + 1 },
  );
  const totalCount = await em.count(AuditEvent, { tenantId });
  return { events: rows.slice(0, first), hasNextPage: rows.length > first, totalCount };
}

export type Verification = { valid: boolean; eventsChecked: number; firstBad: ChainBreak | null };

/** Times the walk follows a head that moved on while it ran (appends committing mid-check under READ COMMITTED). */
const MAX_HEAD_FOLLOWS = 20;

/**
 * Walks the whole chain in batches; the first break (or a truncated tail) makes it invalid.
 *
 * Appends may commit while it runs. The head is read only once the walk has seen no more events,
 * and an append writes its event and the head in one transaction, so a head ahead of the walk
 * means events committed since the walk read that far: it walks on to that head (at most
 * MAX_HEAD_FOLLOWS times) instead of calling it a gap. A head ahead of events that are not there
 * the second time is a truncated tail. In a REPEATABLE READ transaction (the resolver's) the head
 * never moves and one pass decides.
 */
export async function verifyAuditChain(em: EntityManager, tenantId: string): Promise<Verification> {
  const verification = await walkAuditChain(em, tenantId);
  if (!verification.valid) recordSecurityEvent('audit_chain_broken');
  return verification;
}

async function walkAuditChain(em: EntityManager, tenantId: string): Promise<Verification> {
  let cursor = { expectedSeq: 1n, prevHash: GENESIS_HASH };
  let checked = 0;
  let lastSeq = 0n;
  let followedHead: bigint | undefined;
  let follows = 0;
  for (;;) {
    const batch = await em.find(
      AuditEvent,
      { tenantId, seq: { $gt: lastSeq } },
      { orderBy: { seq: 'asc' }, limit: 1000, disableIdentityMap: true },
    );
    const last = batch.at(-1);
    if (last) {
      const { brk, next } = findBreak(batch, cursor);
      if (brk) return { valid: false, eventsChecked: checked + batch.findIndex((e) => e.id === brk.eventId), firstBad: brk };
      checked += batch.length;
      cursor = next;
      lastSeq = last.seq;
      continue;
    }
    const head = await em.findOne(AuditHead, { tenantId }, { disableIdentityMap: true });
    if (!head) break;
    const walked = cursor.expectedSeq - 1n;
    if (head.lastSeq > walked && head.lastSeq !== followedHead && follows < MAX_HEAD_FOLLOWS) {
      // Committed after our last read: its events are visible now.
      followedHead = head.lastSeq;
      follows++;
      continue;
    }
    if (head.lastSeq !== walked || head.lastHash !== cursor.prevHash) {
      // Rows after the last one we saw were removed: the head still remembers them.
      return { valid: false, eventsChecked: checked, firstBad: { eventId: '', seq: cursor.expectedSeq, reason: 'SEQUENCE_GAP' } };
    }
    break;
  }
  return { valid: true, eventsChecked: checked, firstBad: null };
}
