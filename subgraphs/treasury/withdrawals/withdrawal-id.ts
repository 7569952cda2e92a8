import { base32nopad } from '@scure/base';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Deterministic references we give exchanges for a withdrawal (as purchases use their id as the
 * clientOrderId). Neither Kraken's `Withdraw` nor Swyftx's `/funds/withdraw/` takes a client id, so
 * the reference names the exchange-side address-book entry ("key" at Kraken, the saved address's
 * name at Swyftx) the withdrawal is sent to, and reconciliation (reconcile.ts) matches on it.
 * Format: 4-letter prefix + base32 (RFC 4648, lower case, no padding) of the 16 uuid bytes = 30
 * characters of [a-z2-7]: no separators, no case, shorter than any name limit we know of.
 */

export const WITHDRAWAL_REF_PREFIX = 'abtw';
export const DESTINATION_REF_PREFIX = 'abtd';
export const REF_LENGTH = 30;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidBytes(id: unknown, field: string): Uint8Array {
  if (typeof id !== 'string' || !UUID.test(id.toLowerCase())) throw withdrawalError(WithdrawalReason.INVALID_WITHDRAWAL_ID, `${field} must be a UUID`, { field });
  return Uint8Array.from(Buffer.from(id.toLowerCase().replace(/-/g, ''), 'hex'));
}

function toUuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const encode = (prefix: string, id: unknown, field: string): string => prefix + base32nopad.encode(uuidBytes(id, field)).toLowerCase();

function decode(prefix: string, ref: unknown): string | null {
  if (typeof ref !== 'string' || ref.length !== REF_LENGTH || !ref.startsWith(prefix)) return null;
  try {
    const bytes = base32nopad.decode(ref.slice(prefix.length).toUpperCase());
    if (bytes.length !== 16) return null;
    const id = toUuid(bytes);
    return encode(prefix, id, 'ref') === ref ? id : null; // canonical only: one id ↔ one ref
  } catch {
    return null;
  }
}

/** The reference of one withdrawal: the Kraken key / Swyftx address name for its one-time derived address. */
export const exchangeWithdrawalRef = (withdrawalId: string): string => encode(WITHDRAWAL_REF_PREFIX, withdrawalId, 'withdrawalId');
/** The withdrawal a reference names, or null when it is not one of ours. */
export const withdrawalIdFromRef = (ref: unknown): string | null => decode(WITHDRAWAL_REF_PREFIX, ref);

/** The exchange address-book name for a static ADDRESS destination (shared by its withdrawals). */
export const exchangeDestinationRef = (destinationId: string): string => encode(DESTINATION_REF_PREFIX, destinationId, 'destinationId');
export const destinationIdFromRef = (ref: unknown): string | null => decode(DESTINATION_REF_PREFIX, ref);
