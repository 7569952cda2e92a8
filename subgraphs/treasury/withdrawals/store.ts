import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import type { WithdrawalUpdatedEvent } from '../../../lib/events';
import type { AddressType, BitcoinNetwork } from './address';
import { WithdrawalStatus, assertTransition, type ApprovalPolicy, type ApprovalTier } from './approvals';
import type { Destination, DestinationEvent, DestinationKind, DestinationStatus } from './destinations';
import type { Role } from './member';
import type { XpubScriptType } from './xpub';

/** Rows of the withdrawal tables (migrations.ts) and the kernel's values they hold. */

type DestinationRow = {
  id: string;
  kind: DestinationKind;
  network: BitcoinNetwork;
  value: string;
  address_type: AddressType | null;
  script_type: XpubScriptType | null;
  label: string;
  status: DestinationStatus;
  created_by: string;
  created_at: Date;
  changed_by: string;
  changed_at: Date;
  confirmed_by: string | null;
  confirmed_at: Date | null;
  disabled_by: string | null;
  disabled_at: Date | null;
  next_index: number | null;
  last_funded_index: number | null;
  version: number;
};

const toDestination = (r: DestinationRow): Destination => ({
  id: r.id,
  kind: r.kind,
  network: r.network,
  value: r.value,
  addressType: r.address_type,
  scriptType: r.script_type,
  label: r.label,
  status: r.status,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
  changedBy: r.changed_by,
  changedAt: new Date(r.changed_at),
  confirmedBy: r.confirmed_by,
  confirmedAt: r.confirmed_at ? new Date(r.confirmed_at) : null,
  disabledBy: r.disabled_by,
  disabledAt: r.disabled_at ? new Date(r.disabled_at) : null,
  derivation: r.next_index === null ? null : { nextIndex: r.next_index, lastFundedIndex: r.last_funded_index ?? -1 },
  version: r.version,
});

export async function loadDestinations(em: EntityManager, ids: readonly string[] | null, forUpdate = false): Promise<Destination[]> {
  const where = ids === null ? '' : ` where id in (${ids.map(() => '?::uuid').join(', ') || 'null'})`;
  const rows = await em.execute<DestinationRow[]>(
    `select * from withdrawal_destination${where} order by created_at desc, id${forUpdate ? ' for update' : ''}`,
    ids === null ? [] : [...ids],
  );
  return rows.map(toDestination);
}

export async function insertDestination(em: EntityManager, d: Destination, coolingOffEndsAt: Date): Promise<void> {
  await em.execute(
    `insert into withdrawal_destination (id, kind, network, value, address_type, script_type, label, status, created_by, created_at, changed_by, changed_at,
       cooling_off_ends_at, next_index, last_funded_index, version) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      d.id,
      d.kind,
      d.network,
      d.value,
      d.addressType,
      d.scriptType,
      d.label,
      d.status,
      d.createdBy,
      d.createdAt,
      d.changedBy,
      d.changedAt,
      coolingOffEndsAt,
      d.derivation?.nextIndex ?? null,
      d.derivation?.lastFundedIndex ?? null,
      d.version,
    ],
  );
}

/** Writes the kernel's new destination over the stored one, only if nobody changed it meanwhile (version). */
export async function updateDestination(em: EntityManager, prevVersion: number, d: Destination, coolingOffEndsAt: Date): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `update withdrawal_destination set value = ?, address_type = ?, script_type = ?, label = ?, status = ?, changed_by = ?, changed_at = ?, cooling_off_ends_at = ?,
       confirmed_by = ?, confirmed_at = ?, disabled_by = ?, disabled_at = ?, next_index = ?, last_funded_index = ?, version = ?
     where id = ? and version = ? returning id`,
    [
      d.value,
      d.addressType,
      d.scriptType,
      d.label,
      d.status,
      d.changedBy,
      d.changedAt,
      coolingOffEndsAt,
      d.confirmedBy,
      d.confirmedAt,
      d.disabledBy,
      d.disabledAt,
      d.derivation?.nextIndex ?? null,
      d.derivation?.lastFundedIndex ?? null,
      d.version,
      d.id,
      prevVersion,
    ],
  );
  return rows.length === 1;
}

/** A destination event in the audit chain (the xpub itself is kept out, as the kernel's events do). */
export function auditDestinationEvent(tx: TenantTx, e: DestinationEvent): Promise<string> {
  return tx.audit({
    eventType: `withdrawal_destination.${e.type.toLowerCase()}`,
    actorId: e.actorId,
    subjectType: 'WithdrawalDestination',
    subjectId: e.destinationId,
    data: { ...e.details, at: e.at.toISOString() },
  });
}

export type WithdrawalRow = {
  id: string;
  destination_id: string;
  sats: string;
  requested_all: boolean;
  address: string;
  derivation_index: number | null;
  status: WithdrawalStatus;
  idempotency_key: string;
  request_hash: string;
  requested_by: string;
  approvals_required: number;
  approver_roles: Role[];
  price: string | null;
  rail: string;
  client_id: string;
  rail_ref: string | null;
  txid: string | null;
  failure_reason: string | null;
  travel_rule: unknown;
  lease_until: Date | null;
  exchange_key: string | null;
  attempted_at: Date | null;
  fee_sats: string | null;
  escalation: string | null;
  auto_period: string | null;
  created_at: Date;
  updated_at: Date;
};

const WITHDRAWAL_COLUMNS = `id, destination_id, sats::text as sats, requested_all, address, derivation_index, status, idempotency_key, request_hash, requested_by,
  approvals_required, approver_roles, price::text as price, rail, client_id, rail_ref, txid, failure_reason, travel_rule, lease_until,
  exchange_key, attempted_at, fee_sats::text as fee_sats, escalation, auto_period, created_at, updated_at`;

export async function loadWithdrawals(em: EntityManager, ids: readonly string[] | null, opts: { forUpdate?: boolean; limit?: number } = {}): Promise<WithdrawalRow[]> {
  const where = ids === null ? '' : ` where id in (${ids.map(() => '?::uuid').join(', ') || 'null'})`;
  return em.execute<WithdrawalRow[]>(
    `select ${WITHDRAWAL_COLUMNS} from withdrawal${where} order by created_at desc, id${opts.limit ? ` limit ${Math.trunc(opts.limit)}` : ''}${opts.forUpdate ? ' for update' : ''}`,
    ids === null ? [] : [...ids],
  );
}

export type ApprovalRow = { withdrawal_id: string; user_id: string; role: Role; at: Date };
export type TransitionRow = { withdrawal_id: string; from_status: WithdrawalStatus | null; to_status: WithdrawalStatus; actor_id: string | null; reason: string | null; at: Date };

export function loadApprovals(em: EntityManager, ids: readonly string[]): Promise<ApprovalRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return em.execute<ApprovalRow[]>(`select withdrawal_id, user_id, role, at from withdrawal_approval where withdrawal_id in (${ids.map(() => '?::uuid').join(', ')}) order by at, user_id`, [...ids]);
}

export function loadTransitions(em: EntityManager, ids: readonly string[]): Promise<TransitionRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return em.execute<TransitionRow[]>(
    `select withdrawal_id, from_status, to_status, actor_id, reason, at from withdrawal_transition where withdrawal_id in (${ids.map(() => '?::uuid').join(', ')}) order by seq`,
    [...ids],
  );
}

/** The `tenant.<tid>.withdrawal` event (channel and tenantId come from the transaction). */
export const withdrawalEvent = (withdrawalId: string, status: WithdrawalStatus, previous: WithdrawalStatus | null, at: Date): WithdrawalUpdatedEvent => ({
  __typename: 'WithdrawalUpdated',
  version: 1,
  withdrawalId,
  status,
  previousStatus: previous,
  at: at.toISOString(),
});

/** Stores the first transition (null → REQUESTED) with its audit record and live event. */
export async function recordCreated(tx: TenantTx, id: string, actorId: string, at: Date, data: Record<string, unknown>): Promise<void> {
  await tx.em.execute(`insert into withdrawal_transition (id, withdrawal_id, from_status, to_status, actor_id, reason, at) values (?, ?, null, 'REQUESTED', ?, ?, ?)`, [
    randomUUID(),
    id,
    actorId,
    'requested',
    at,
  ]);
  await tx.audit({ eventType: 'withdrawal.requested', actorId, subjectType: 'Withdrawal', subjectId: id, data });
  tx.publish('withdrawal', withdrawalEvent(id, WithdrawalStatus.REQUESTED, null, at));
}

/**
 * Moves a withdrawal from `from` to `to` as the state machine allows: the status (only if it still is
 * `from`), the stored transition, the audit record and the live event after commit. False when the
 * row was no longer `from` (another worker moved it): nothing written.
 */
export async function transitionWithdrawal(
  tx: TenantTx,
  id: string,
  from: WithdrawalStatus,
  to: WithdrawalStatus,
  change: { reason: string | null; actorId: string | null; at: Date; set?: Record<string, string | number | null> },
): Promise<boolean> {
  assertTransition(from, to);
  const extra = Object.entries(change.set ?? {});
  const moved = await tx.em.execute<{ id: string }[]>(
    `update withdrawal set status = ?, updated_at = ?, version = version + 1${extra.map(([k]) => `, ${k} = ?`).join('')} where id = ? and status = ? returning id`,
    [to, change.at, ...extra.map(([, v]) => v), id, from],
  );
  if (moved.length === 0) return false;
  await tx.em.execute(`insert into withdrawal_transition (id, withdrawal_id, from_status, to_status, actor_id, reason, at) values (?, ?, ?, ?, ?, ?, ?)`, [
    randomUUID(),
    id,
    from,
    to,
    change.actorId,
    change.reason,
    change.at,
  ]);
  await tx.audit({
    eventType: `withdrawal.${to.toLowerCase()}`,
    actorId: change.actorId,
    subjectType: 'Withdrawal',
    subjectId: id,
    data: { from, to, reason: change.reason, ...(change.set ?? {}) },
  });
  tx.publish('withdrawal', withdrawalEvent(id, to, from, change.at));
  return true;
}

type PolicyJson = { aboveAudCents: string; approvals: number; roles: Role[] }[];

export async function loadPolicy(em: EntityManager, fallback: ApprovalPolicy): Promise<ApprovalPolicy> {
  const [row] = await em.execute<{ tiers: PolicyJson }[]>(`select tiers from withdrawal_policy`);
  if (!row) return fallback;
  return { tiers: row.tiers.map((t): ApprovalTier => ({ aboveAudCents: BigInt(t.aboveAudCents), approvals: t.approvals, roles: t.roles })) };
}

export async function savePolicy(em: EntityManager, policy: ApprovalPolicy, by: string, at: Date): Promise<void> {
  const tiers: PolicyJson = policy.tiers.map((t) => ({ aboveAudCents: t.aboveAudCents.toString(), approvals: t.approvals, roles: [...t.roles] }));
  await em.execute(
    `insert into withdrawal_policy (tiers, updated_by, updated_at) values (?::jsonb, ?, ?)
     on conflict (tenant_id) do update set tiers = excluded.tiers, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    [JSON.stringify(tiers), by, at],
  );
}
