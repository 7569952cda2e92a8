import { assertNetwork, parseAddress, type AddressType, type BitcoinNetwork } from './address';
import { assertMember, assertNow, requireSecondFactor, type Member, type Role } from './member';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';
import { deriveReceiveAddress, parseExtendedPublicKey, type XpubScriptType } from './xpub';

/**
 * The address book: a destination is an address or an extended public key. It is usable only once
 * a second member confirmed it AND the cooling-off since its creation or last change has passed.
 * Every function is pure: it returns the new destination and the event to audit and notify.
 */

export type DestinationKind = 'ADDRESS' | 'XPUB';
export type DestinationStatus = 'PENDING_CONFIRMATION' | 'CONFIRMED' | 'DISABLED';

export type DestinationPolicy = {
  /** Cooling-off after creation or any change, in ms (default 24 h). */
  coolingOffMs: number;
  /** Roles that may add, change or disable destinations. */
  managerRoles: readonly Role[];
  /** Roles whose member may confirm someone else's destination. */
  confirmerRoles: readonly Role[];
  /** BIP 44 gap limit: never hand out an index more than this past the last funded one (default 20). */
  gapLimit: number;
};

export const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_DESTINATION_POLICY: DestinationPolicy = {
  coolingOffMs: DAY_MS,
  managerRoles: ['OWNER', 'ADMIN'],
  confirmerRoles: ['OWNER', 'ADMIN'],
  gapLimit: 20,
};
const MAX_COOLING_OFF_MS = 30 * DAY_MS;

/** Next-address bookkeeping for XPUB destinations: indexes only ever grow, so none is handed out twice. */
export type Derivation = {
  /** The index the next withdrawal gets. */
  nextIndex: number;
  /** Highest index a withdrawal actually paid (broadcast); -1 before the first. */
  lastFundedIndex: number;
};

export type Destination = {
  id: string;
  label: string;
  kind: DestinationKind;
  network: BitcoinNetwork;
  /** ADDRESS: the canonical address. XPUB: the extended public key as given. */
  value: string;
  /** ADDRESS only. */
  addressType: AddressType | null;
  /** XPUB only: how derived keys become addresses. */
  scriptType: XpubScriptType | null;
  status: DestinationStatus;
  createdBy: string;
  createdAt: Date;
  /** Who made the current content (the creator, or the last member to change it). */
  changedBy: string;
  /** The cooling-off runs from here: creation, the last change, or re-enabling. */
  changedAt: Date;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  disabledBy: string | null;
  disabledAt: Date | null;
  /** XPUB only. */
  derivation: Derivation | null;
  /** Bumped by every change; the store uses it for optimistic locking. */
  version: number;
};

export type DestinationEventType = 'CREATED' | 'CHANGED' | 'CONFIRMED' | 'DISABLED' | 'REENABLED' | 'ADDRESS_RESERVED' | 'ADDRESS_FUNDED';

/** What to write to the audit chain and publish; details hold no secrets (an xpub is public but is kept out anyway). */
export type DestinationEvent = {
  type: DestinationEventType;
  destinationId: string;
  actorId: string | null;
  at: Date;
  details: Record<string, string | number | null>;
};

export type DestinationChange = { destination: Destination; event: DestinationEvent };

export type Usability =
  | { usable: true; usableSince: Date }
  | { usable: false; reason: 'DISABLED' | 'NOT_CONFIRMED' | 'COOLING_OFF'; coolingOffEndsAt: Date | null };

const ROLES_ALLOWED: readonly Role[] = ['OWNER', 'ADMIN', 'USER', 'VIEWER'];
const isRole = (v: unknown): boolean => ROLES_ALLOWED.some((r) => r === v);

export function assertDestinationPolicy(p: unknown): asserts p is DestinationPolicy {
  const x = p as Partial<DestinationPolicy> | null;
  const bad = (m: string) => withdrawalError(WithdrawalReason.INVALID_POLICY, m, { field: 'destinationPolicy' });
  if (x === null || typeof x !== 'object') throw bad('a destination policy is required');
  if (typeof x.coolingOffMs !== 'number' || !Number.isInteger(x.coolingOffMs) || x.coolingOffMs < 0 || x.coolingOffMs > MAX_COOLING_OFF_MS) {
    throw bad('coolingOffMs must be a whole number of milliseconds from 0 to 30 days');
  }
  for (const k of ['managerRoles', 'confirmerRoles'] as const) {
    const r = x[k];
    if (!Array.isArray(r) || r.length === 0 || r.some((v: unknown) => !isRole(v) || v === 'VIEWER')) {
      throw bad(`${k} must list at least one of OWNER, ADMIN, USER`);
    }
  }
  if (typeof x.gapLimit !== 'number' || !Number.isInteger(x.gapLimit) || x.gapLimit < 1 || x.gapLimit > 1000) {
    throw bad('gapLimit must be a whole number from 1 to 1000');
  }
}

const invalid = (message: string, field: string) => withdrawalError(WithdrawalReason.INVALID_DESTINATION, message, { field });

function cleanLabel(label: unknown): string {
  if (typeof label !== 'string') throw invalid('label must be a string', 'label');
  const t = label.trim();
  // eslint-disable-next-line no-control-regex
  if (t.length === 0 || t.length > 80 || /[\u0000-\u001f\u007f]/.test(t)) throw invalid('label must be 1 to 80 printable characters', 'label');
  return t;
}

function cleanId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw invalid('id must be 1 to 64 letters, digits, - or _', 'id');
  return id;
}

function requireManager(actor: Member, policy: DestinationPolicy, action: string): void {
  if (!policy.managerRoles.includes(actor.role)) {
    throw withdrawalError(WithdrawalReason.ROLE_NOT_ALLOWED, `role ${actor.role} may not ${action}`, { role: actor.role });
  }
}

type Content = Pick<Destination, 'kind' | 'network' | 'value' | 'addressType' | 'scriptType'>;

function validateContent(kind: unknown, value: unknown, network: unknown, scriptType: unknown): Content {
  assertNetwork(network);
  if (kind === 'ADDRESS') {
    if (scriptType !== undefined && scriptType !== null) throw invalid('scriptType is for XPUB destinations only', 'scriptType');
    const a = parseAddress(value, network);
    return { kind, network, value: a.address, addressType: a.type, scriptType: null };
  }
  if (kind === 'XPUB') {
    const k = parseExtendedPublicKey(value, { network, scriptType: (scriptType ?? undefined) as XpubScriptType | undefined });
    return { kind, network, value: k.text, addressType: null, scriptType: k.scriptType };
  }
  throw invalid('kind must be ADDRESS or XPUB', 'kind');
}

function event(type: DestinationEventType, d: Destination, actorId: string | null, at: Date, details: Record<string, string | number | null> = {}): DestinationEvent {
  return { type, destinationId: d.id, actorId, at, details: { kind: d.kind, status: d.status, version: d.version, ...details } };
}

export type NewDestination = { id: string; label: string; kind: DestinationKind; value: string; network: BitcoinNetwork; scriptType?: XpubScriptType };

/** A new destination, PENDING_CONFIRMATION, its cooling-off starting now. */
export function createDestination(input: NewDestination, actor: Member, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): DestinationChange {
  assertMember(actor, 'actor');
  assertNow(now);
  assertDestinationPolicy(policy);
  requireManager(actor, policy, 'add withdrawal destinations');
  const id = cleanId(input?.id);
  const label = cleanLabel(input.label);
  const content = validateContent(input.kind, input.value, input.network, input.scriptType);
  const destination: Destination = {
    id,
    label,
    ...content,
    status: 'PENDING_CONFIRMATION',
    createdBy: actor.userId,
    createdAt: now,
    changedBy: actor.userId,
    changedAt: now,
    confirmedBy: null,
    confirmedAt: null,
    disabledBy: null,
    disabledAt: null,
    derivation: content.kind === 'XPUB' ? { nextIndex: 0, lastFundedIndex: -1 } : null,
    version: 1,
  };
  return { destination, event: event('CREATED', destination, actor.userId, now, { network: content.network, label }) };
}

/** A second member confirms: not the creator, not the last changer, a confirming role, with MFA. */
export function confirmDestination(d: Destination, confirmer: Member, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): DestinationChange {
  assertMember(confirmer, 'confirmer');
  assertNow(now);
  assertDestinationPolicy(policy);
  if (d.status === 'DISABLED') throw withdrawalError(WithdrawalReason.DESTINATION_DISABLED, 'this destination is disabled', { destinationId: d.id });
  if (d.status !== 'PENDING_CONFIRMATION') {
    throw withdrawalError(WithdrawalReason.INVALID_TRANSITION, 'this destination is already confirmed', { destinationId: d.id, status: d.status });
  }
  if (confirmer.userId === d.createdBy || confirmer.userId === d.changedBy) {
    throw withdrawalError(WithdrawalReason.SELF_CONFIRMATION, 'a destination must be confirmed by a member other than the one who added or changed it', {
      destinationId: d.id,
    });
  }
  if (!policy.confirmerRoles.includes(confirmer.role)) {
    throw withdrawalError(WithdrawalReason.ROLE_NOT_ALLOWED, `role ${confirmer.role} may not confirm destinations`, { role: confirmer.role });
  }
  requireSecondFactor(confirmer, 'confirming a withdrawal destination');
  const destination: Destination = { ...d, status: 'CONFIRMED', confirmedBy: confirmer.userId, confirmedAt: now, version: d.version + 1 };
  return { destination, event: event('CONFIRMED', destination, confirmer.userId, now, { coolingOffEndsAt: coolingOffEndsAt(destination, policy).toISOString() }) };
}

export type DestinationPatch = { label?: string; value?: string; scriptType?: XpubScriptType };

/**
 * Any change (label included) restarts the cooling-off and needs a fresh confirmation. A new
 * extended key starts its own derivation at index 0; the kind and network never change (add a
 * new destination instead).
 */
export function changeDestination(d: Destination, patch: DestinationPatch, actor: Member, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): DestinationChange {
  assertMember(actor, 'actor');
  assertNow(now);
  assertDestinationPolicy(policy);
  requireManager(actor, policy, 'change withdrawal destinations');
  if (d.status === 'DISABLED') throw withdrawalError(WithdrawalReason.DESTINATION_DISABLED, 'a disabled destination cannot be changed', { destinationId: d.id });
  if (patch === null || typeof patch !== 'object') throw invalid('a change must be an object', 'patch');
  const label = patch.label === undefined ? d.label : cleanLabel(patch.label);
  const content =
    patch.value === undefined && patch.scriptType === undefined
      ? { kind: d.kind, network: d.network, value: d.value, addressType: d.addressType, scriptType: d.scriptType }
      : validateContent(d.kind, patch.value ?? d.value, d.network, patch.scriptType ?? (d.kind === 'XPUB' && patch.value === undefined ? d.scriptType : undefined));
  const keyChanged = content.value !== d.value || content.scriptType !== d.scriptType;
  if (label === d.label && !keyChanged) throw invalid('the change changes nothing', 'patch');
  const destination: Destination = {
    ...d,
    ...content,
    label,
    status: 'PENDING_CONFIRMATION',
    changedBy: actor.userId,
    changedAt: now,
    confirmedBy: null,
    confirmedAt: null,
    derivation: d.kind === 'XPUB' && keyChanged ? { nextIndex: 0, lastFundedIndex: -1 } : d.derivation,
    version: d.version + 1,
  };
  const changed = [label !== d.label ? 'label' : null, content.value !== d.value ? 'value' : null, content.scriptType !== d.scriptType ? 'scriptType' : null]
    .filter((x) => x !== null)
    .join(',');
  return { destination, event: event('CHANGED', destination, actor.userId, now, { changed }) };
}

export function disableDestination(d: Destination, actor: Member, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): DestinationChange {
  assertMember(actor, 'actor');
  assertNow(now);
  assertDestinationPolicy(policy);
  requireManager(actor, policy, 'disable withdrawal destinations');
  if (d.status === 'DISABLED') throw withdrawalError(WithdrawalReason.INVALID_TRANSITION, 'this destination is already disabled', { destinationId: d.id });
  const destination: Destination = { ...d, status: 'DISABLED', disabledBy: actor.userId, disabledAt: now, version: d.version + 1 };
  return { destination, event: event('DISABLED', destination, actor.userId, now) };
}

/** Back to PENDING_CONFIRMATION with a fresh cooling-off: re-enabling is treated like a change. */
export function reenableDestination(d: Destination, actor: Member, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): DestinationChange {
  assertMember(actor, 'actor');
  assertNow(now);
  assertDestinationPolicy(policy);
  requireManager(actor, policy, 're-enable withdrawal destinations');
  if (d.status !== 'DISABLED') throw withdrawalError(WithdrawalReason.INVALID_TRANSITION, 'only a disabled destination can be re-enabled', { destinationId: d.id });
  const destination: Destination = {
    ...d,
    status: 'PENDING_CONFIRMATION',
    changedBy: actor.userId,
    changedAt: now,
    confirmedBy: null,
    confirmedAt: null,
    disabledBy: null,
    disabledAt: null,
    version: d.version + 1,
  };
  return { destination, event: event('REENABLED', destination, actor.userId, now) };
}

export const coolingOffEndsAt = (d: Destination, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): Date =>
  new Date(d.changedAt.getTime() + policy.coolingOffMs);

/** Whether a withdrawal may go to `d` at `now`, and if not why and from when the cooling-off allows it. */
export function usability(d: Destination, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): Usability {
  assertNow(now);
  assertDestinationPolicy(policy);
  const ends = coolingOffEndsAt(d, policy);
  if (d.status === 'DISABLED') return { usable: false, reason: 'DISABLED', coolingOffEndsAt: null };
  if (d.status !== 'CONFIRMED' || d.confirmedAt === null) return { usable: false, reason: 'NOT_CONFIRMED', coolingOffEndsAt: ends };
  if (now.getTime() < ends.getTime()) return { usable: false, reason: 'COOLING_OFF', coolingOffEndsAt: ends };
  return { usable: true, usableSince: new Date(Math.max(ends.getTime(), d.confirmedAt.getTime())) };
}

export function assertUsable(d: Destination, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): void {
  const u = usability(d, now, policy);
  if (u.usable) return;
  const details = { destinationId: d.id, coolingOffEndsAt: u.coolingOffEndsAt?.toISOString() ?? null };
  if (u.reason === 'DISABLED') throw withdrawalError(WithdrawalReason.DESTINATION_DISABLED, 'this destination is disabled', details);
  if (u.reason === 'NOT_CONFIRMED') throw withdrawalError(WithdrawalReason.NOT_CONFIRMED, 'this destination has not been confirmed by a second member yet', details);
  throw withdrawalError(WithdrawalReason.COOLING_OFF, `this destination is in its cooling-off period until ${details.coolingOffEndsAt}`, details);
}

export type AddressReservation = {
  address: string;
  type: AddressType;
  /** null for ADDRESS destinations; the derivation index for XPUB ones. */
  index: number | null;
  /** `0/<index>` relative to the extended key, or null. */
  path: string | null;
};

export type ReservedAddress = { destination: Destination; reservation: AddressReservation; event: DestinationEvent | null };

/**
 * The address a withdrawal pays: the address itself, or the next derived one (its index is consumed
 * now, so a retry or a crash never hands it out twice; the withdrawal stores the reservation).
 * GAP_LIMIT_REACHED when the next index would lie beyond what a wallet scanning BIP 44's gap finds.
 */
export function reserveWithdrawalAddress(d: Destination, now: Date, policy: DestinationPolicy = DEFAULT_DESTINATION_POLICY): ReservedAddress {
  assertUsable(d, now, policy);
  if (d.kind === 'ADDRESS') {
    return { destination: d, reservation: { address: d.value, type: d.addressType as AddressType, index: null, path: null }, event: null };
  }
  const dv = d.derivation;
  if (!dv) throw withdrawalError(WithdrawalReason.NOT_AN_XPUB_DESTINATION, 'this destination has no derivation state');
  if (dv.nextIndex - dv.lastFundedIndex > policy.gapLimit) {
    throw withdrawalError(
      WithdrawalReason.GAP_LIMIT_REACHED,
      `${policy.gapLimit} derived addresses in a row were never paid; a wallet scanning with the standard gap limit would not see the next one`,
      { destinationId: d.id, nextIndex: dv.nextIndex, lastFundedIndex: dv.lastFundedIndex },
    );
  }
  const key = parseExtendedPublicKey(d.value, { network: d.network, scriptType: d.scriptType ?? undefined });
  const derived = deriveReceiveAddress(key, dv.nextIndex, d.network);
  const destination: Destination = { ...d, derivation: { ...dv, nextIndex: dv.nextIndex + 1 }, version: d.version + 1 };
  return {
    destination,
    reservation: { address: derived.address, type: derived.type, index: derived.index, path: derived.path },
    event: event('ADDRESS_RESERVED', destination, null, now, { index: derived.index, address: derived.address }),
  };
}

/** Records that the withdrawal to `index` was broadcast: the gap counts from the highest paid index. */
export function markAddressFunded(d: Destination, index: number, now: Date): DestinationChange {
  assertNow(now);
  const dv = d.derivation;
  if (d.kind !== 'XPUB' || !dv) throw withdrawalError(WithdrawalReason.NOT_AN_XPUB_DESTINATION, 'only XPUB destinations derive addresses');
  if (!Number.isInteger(index) || index < 0 || index >= dv.nextIndex) {
    throw withdrawalError(WithdrawalReason.INVALID_DERIVATION_INDEX, 'that index was never handed out', { index: String(index) });
  }
  const destination: Destination = { ...d, derivation: { ...dv, lastFundedIndex: Math.max(dv.lastFundedIndex, index) }, version: d.version + 1 };
  return { destination, event: event('ADDRESS_FUNDED', destination, null, now, { index }) };
}
