import type { Destination } from './destinations';

/**
 * The travel-rule record stored with each withdrawal, in the transaction that creates it (before
 * anything is sent): originator, beneficiary, whether the wallet is self-hosted, and the ownership
 * check made. Every destination here is the tenant's own wallet added to its address book; ownership
 * is established by the four-eyes address-book process (a second member with a second factor
 * confirmed it, after the cooling-off), and for an XPUB the address is derived from the tenant's own
 * extended public key. The kernel's `buildTravelRuleRecord` (travel-rule.ts) adds a signed-message or
 * satoshi test when a destination has one; ABN and registered address are the tenant module's
 * (KYB) and are null here until it shares them.
 */
export type StoredTravelRule = {
  version: 2;
  withdrawalId: string;
  network: string;
  amountSats: string;
  originator: { name: string | null; accountId: string; abn: null; address: null; vasp: string };
  beneficiary: { name: string | null; isOriginator: true; walletAddress: string };
  wallet: { kind: 'SELF_HOSTED'; selfHosted: true };
  ownership: {
    checkMade: boolean;
    method: 'DESTINATION_CONFIRMED';
    result: 'CONFIRMED' | 'NOT_CONFIRMED';
    destinationId: string;
    destinationKind: Destination['kind'];
    addedBy: string;
    confirmedBy: string | null;
    confirmedAt: string | null;
    derivedFromOwnXpub: boolean;
  };
  screening: { status: 'NOT_AVAILABLE' };
  recordedAt: string;
};

export function travelRuleFor(
  w: { id: string; tenantId: string; tenantName: string | null; address: string; sats: bigint; rail: string; now: Date },
  d: Destination,
): StoredTravelRule {
  const confirmed = d.status === 'CONFIRMED' && d.confirmedBy !== null;
  return {
    version: 2,
    withdrawalId: w.id,
    network: d.network,
    amountSats: w.sats.toString(),
    originator: { name: w.tenantName, accountId: w.tenantId, abn: null, address: null, vasp: w.rail },
    beneficiary: { name: w.tenantName, isOriginator: true, walletAddress: w.address },
    wallet: { kind: 'SELF_HOSTED', selfHosted: true },
    ownership: {
      checkMade: confirmed,
      method: 'DESTINATION_CONFIRMED',
      result: confirmed ? 'CONFIRMED' : 'NOT_CONFIRMED',
      destinationId: d.id,
      destinationKind: d.kind,
      addedBy: d.createdBy,
      confirmedBy: d.confirmedBy,
      confirmedAt: d.confirmedAt?.toISOString() ?? null,
      derivedFromOwnXpub: d.kind === 'XPUB',
    },
    screening: { status: 'NOT_AVAILABLE' },
    recordedAt: w.now.toISOString(),
  };
}

/** Whether the stored record makes the withdrawal a transfer to the tenant's own wallet (tax: parcels move, no disposal). */
export const isOwnWalletRecord = (r: unknown): boolean => {
  if (typeof r !== 'object' || r === null) return false;
  const rec = r as Partial<StoredTravelRule> & { beneficiary?: { isOriginator?: unknown }; ownership?: { result?: unknown; method?: unknown } };
  return rec.beneficiary?.isOriginator === true && (rec.ownership?.result === 'CONFIRMED' || rec.ownership?.method === 'DESTINATION_CONFIRMED');
};
