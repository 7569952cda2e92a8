import { parseAddress, type BitcoinNetwork } from './address';
import { MAX_SATS } from './approvals';
import { assertNow } from './member';
import { verifyMessageSignature, type MessageVerification } from './message-signature';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

export { verifyMessageSignature, type MessageVerification } from './message-signature';

/**
 * The travel-rule record kept with every transfer: who sends (the tenant's legal entity), who
 * receives, whether the wallet is self-hosted or at a VASP, and how ownership of a self-hosted
 * wallet was checked and with what result. Built and validated here; stored by the service with the
 * withdrawal, in the same transaction, before anything is sent.
 */

export type PostalAddress = { line1: string; locality: string; state: string; postcode: string; country: string };

export type Originator = {
  /** The tenant's registered legal name. */
  name: string;
  /** The tenant id: the "account number" the transfer is made from. */
  accountId: string;
  abn: string | null;
  address: PostalAddress;
};

export type Beneficiary = {
  name: string;
  /** The originator itself (a transfer to the business's own wallet). */
  isOriginator: boolean;
  walletAddress: string;
};

export type WalletCustody = { kind: 'SELF_HOSTED' } | { kind: 'VASP'; vaspName: string; vaspCountry: string };

export type OwnershipCheck =
  | { method: 'SIGNED_MESSAGE'; message: string; signature: string; format: MessageVerification['format']; result: 'VERIFIED' | 'FAILED'; detail: string; checkedAt: Date }
  | { method: 'SATOSHI_TEST'; amountSats: bigint; txid: string | null; result: 'VERIFIED' | 'FAILED' | 'PENDING'; checkedAt: Date }
  | { method: 'DECLARATION'; declaredBy: string; statement: string; result: 'DECLARED'; checkedAt: Date }
  /** A VASP-hosted wallet: the receiving VASP holds the beneficiary's identity. */
  | { method: 'NONE' };

export type SignedMessageCheck = Extract<OwnershipCheck, { method: 'SIGNED_MESSAGE' }>;

export type ScreeningResult = { status: 'NOT_AVAILABLE' } | { status: 'CLEAR' | 'HIT'; list: string; checkedAt: Date };

export type TravelRuleRecord = {
  withdrawalId: string;
  network: BitcoinNetwork;
  amountSats: bigint;
  originator: Originator;
  beneficiary: Beneficiary;
  wallet: WalletCustody;
  ownership: OwnershipCheck;
  screening: ScreeningResult;
  recordedAt: Date;
};

const bad = (message: string, field: string) => withdrawalError(WithdrawalReason.INVALID_TRAVEL_RULE, message, { field });

function text(v: unknown, field: string, max = 140): string {
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > max || /[\u0000-\u001f\u007f]/.test(v)) throw bad(`${field} must be 1 to ${max} printable characters`, field);
  return v.trim();
}

const country = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || !/^[A-Z]{2}$/.test(v)) throw bad(`${field} must be an ISO 3166-1 alpha-2 code like AU`, field);
  return v;
};

/** A challenge for the signed-message check: names the tenant, the address and a one-time nonce, so it cannot be replayed. */
export function ownershipChallenge(tenantName: string, address: string, nonce: string, issuedAt: Date): string {
  assertNow(issuedAt);
  if (!/^[A-Za-z0-9]{16,64}$/.test(nonce)) throw bad('nonce must be 16 to 64 letters or digits', 'nonce');
  return `Liquid ABT ownership check: ${text(tenantName, 'tenantName')} controls ${address}. Nonce ${nonce}. ${issuedAt.toISOString()}`;
}

/** Runs the signed-message check: the result is recorded whether it passes or not. */
export function signedMessageCheck(address: string, network: BitcoinNetwork, message: string, signature: string, now: Date): SignedMessageCheck {
  assertNow(now);
  const v = verifyMessageSignature({ address, message, signature, network });
  return { method: 'SIGNED_MESSAGE', message, signature, format: v.format, result: v.valid ? 'VERIFIED' : 'FAILED', detail: v.detail, checkedAt: now };
}

export type TravelRuleInput = Omit<TravelRuleRecord, 'recordedAt'>;

/** Validates and normalises a travel-rule record; INVALID_TRAVEL_RULE names the first bad field. */
export function buildTravelRuleRecord(input: TravelRuleInput, now: Date): TravelRuleRecord {
  assertNow(now);
  if (input === null || typeof input !== 'object') throw bad('a travel-rule record is required', 'record');
  const withdrawalId = text(input.withdrawalId, 'withdrawalId', 64);
  if (typeof input.amountSats !== 'bigint' || input.amountSats <= 0n || input.amountSats > MAX_SATS) throw bad('amountSats must be a positive bigint', 'amountSats');
  const o = input.originator;
  if (!o || typeof o !== 'object') throw bad('the originator is required', 'originator');
  if (o.abn !== null && (typeof o.abn !== 'string' || !/^\d{11}$/.test(o.abn))) throw bad('abn must be 11 digits or null', 'originator.abn');
  const a = o.address;
  if (!a || typeof a !== 'object') throw bad('the originator’s address is required', 'originator.address');
  const originator: Originator = {
    name: text(o.name, 'originator.name'),
    accountId: text(o.accountId, 'originator.accountId', 64),
    abn: o.abn,
    address: {
      line1: text(a.line1, 'originator.address.line1'),
      locality: text(a.locality, 'originator.address.locality'),
      state: text(a.state, 'originator.address.state', 40),
      postcode: text(a.postcode, 'originator.address.postcode', 12),
      country: country(a.country, 'originator.address.country'),
    },
  };
  const b = input.beneficiary;
  if (!b || typeof b !== 'object' || typeof b.isOriginator !== 'boolean') throw bad('the beneficiary is required', 'beneficiary');
  let walletAddress: string;
  try {
    walletAddress = parseAddress(b.walletAddress, input.network).address;
  } catch {
    throw bad('the beneficiary wallet address is not a valid address on this network', 'beneficiary.walletAddress');
  }
  const beneficiary: Beneficiary = { name: text(b.name, 'beneficiary.name'), isOriginator: b.isOriginator, walletAddress };
  if (beneficiary.isOriginator && beneficiary.name !== originator.name) throw bad('a transfer to the originator’s own wallet names the originator as beneficiary', 'beneficiary.name');

  const w = input.wallet;
  let wallet: WalletCustody;
  if (w?.kind === 'SELF_HOSTED') wallet = { kind: 'SELF_HOSTED' };
  else if (w?.kind === 'VASP') wallet = { kind: 'VASP', vaspName: text(w.vaspName, 'wallet.vaspName'), vaspCountry: country(w.vaspCountry, 'wallet.vaspCountry') };
  else throw bad('wallet must be SELF_HOSTED or VASP', 'wallet.kind');

  const own = input.ownership;
  if (!own || typeof own !== 'object') throw bad('the ownership check is required', 'ownership');
  if (wallet.kind === 'SELF_HOSTED' && own.method === 'NONE') throw bad('a self-hosted wallet needs an ownership check (signed message, satoshi test or declaration)', 'ownership.method');
  if (own.method === 'SIGNED_MESSAGE') {
    // Never trust a stored result: recompute it from the message and signature.
    const again = signedMessageCheck(walletAddress, input.network, own.message, own.signature, own.checkedAt);
    if (again.result !== own.result) throw bad('the recorded signed-message result does not match the signature', 'ownership.result');
  } else if (own.method === 'SATOSHI_TEST') {
    if (typeof own.amountSats !== 'bigint' || own.amountSats <= 0n || own.amountSats > 100_000n) throw bad('a satoshi test moves 1 to 100,000 sats', 'ownership.amountSats');
    if (own.txid !== null && !/^[0-9a-f]{64}$/.test(own.txid)) throw bad('txid must be 64 lower-case hex characters or null', 'ownership.txid');
    if (own.result === 'VERIFIED' && own.txid === null) throw bad('a verified satoshi test names its transaction', 'ownership.txid');
  } else if (own.method === 'DECLARATION') {
    text(own.declaredBy, 'ownership.declaredBy', 100);
    text(own.statement, 'ownership.statement', 1000);
  } else if (own.method !== 'NONE') {
    throw bad('ownership.method must be SIGNED_MESSAGE, SATOSHI_TEST, DECLARATION or NONE', 'ownership.method');
  }
  if (own.method !== 'NONE') assertNow(own.checkedAt);

  const s = input.screening;
  if (!s || (s.status !== 'NOT_AVAILABLE' && s.status !== 'CLEAR' && s.status !== 'HIT')) throw bad('screening must be NOT_AVAILABLE, CLEAR or HIT', 'screening.status');
  if (s.status !== 'NOT_AVAILABLE') {
    text(s.list, 'screening.list');
    assertNow(s.checkedAt);
  }
  return { withdrawalId, network: input.network, amountSats: input.amountSats, originator, beneficiary, wallet, ownership: own, screening: s, recordedAt: now };
}

/** May the withdrawal go ahead on this record? A screening hit or a failed ownership proof stops it. */
export function travelRuleBlocks(r: TravelRuleRecord): string | null {
  if (r.screening.status === 'HIT') return `the destination is on ${r.screening.list}`;
  if (r.ownership.method === 'SIGNED_MESSAGE' && r.ownership.result !== 'VERIFIED') return 'the signed message does not prove ownership of the address';
  if (r.ownership.method === 'SATOSHI_TEST' && r.ownership.result !== 'VERIFIED') return 'the satoshi test has not verified ownership yet';
  return null;
}

/** A transfer to the tenant's own self-hosted wallet, ownership checked: parcels move, no disposal. */
export const isOwnWalletTransfer = (r: TravelRuleRecord): boolean =>
  r.wallet.kind === 'SELF_HOSTED' &&
  r.beneficiary.isOriginator &&
  ((r.ownership.method === 'SIGNED_MESSAGE' && r.ownership.result === 'VERIFIED') ||
    (r.ownership.method === 'SATOSHI_TEST' && r.ownership.result === 'VERIFIED') ||
    r.ownership.method === 'DECLARATION');
