import { secp256k1 } from '@noble/curves/secp256k1.js';
import { at } from '../../../test/helpers/present';
import { base64 } from '@scure/base';
import { replayHistory } from '../../compliance/tax/parcel-ledger';
import type { Transfer } from '../../compliance/tax/tax.types';
import { encodeAddress, hash160 } from './address';
import { bitcoinMessageHash } from './message-signature';
import { taxTreatmentOf, type TaxTransfer } from './tax-transfer';
import { buildTravelRuleRecord, isOwnWalletTransfer, ownershipChallenge, signedMessageCheck, travelRuleBlocks, type TravelRuleInput } from './travel-rule';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

const now = new Date('2026-03-02T09:00:00Z');
const priv = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const address = encodeAddress('P2WPKH', hash160(secp256k1.getPublicKey(priv, true)), 'mainnet');

function sign(message: string): string {
  const rec = secp256k1.sign(bitcoinMessageHash(message), priv, { prehash: false, format: 'recovered' });
  const sig = Uint8Array.from(rec);
  sig[0] = 39 + at(rec, 0, 'recovered signature'); // BIP 137 P2WPKH header
  return base64.encode(sig);
}

const challenge = ownershipChallenge('Demo Coffee Roasters Pty Ltd', address, 'n0nce0123456789abcdef', now);

const input = (over: Partial<TravelRuleInput> = {}): TravelRuleInput => ({
  withdrawalId: 'w-1',
  network: 'mainnet',
  amountSats: 5_000_000n,
  originator: {
    name: 'Demo Coffee Roasters Pty Ltd',
    accountId: '3f0c0d2e-6a0f-4b9e-8f66-0d7f4c1b2a11',
    abn: '51824753556',
    address: { line1: '1 Roast St', locality: 'Newtown', state: 'NSW', postcode: '2042', country: 'AU' },
  },
  beneficiary: { name: 'Demo Coffee Roasters Pty Ltd', isOriginator: true, walletAddress: address },
  wallet: { kind: 'SELF_HOSTED' },
  ownership: signedMessageCheck(address, 'mainnet', challenge, sign(challenge), now),
  screening: { status: 'NOT_AVAILABLE' },
  ...over,
});

describe('travel-rule record', () => {
  it('a self-hosted own wallet with a verified signed message is recorded and is an own-wallet transfer', () => {
    const r = buildTravelRuleRecord(input(), now);
    expect(r.ownership).toMatchObject({ method: 'SIGNED_MESSAGE', result: 'VERIFIED', format: 'BIP137' });
    expect(r.recordedAt).toEqual(now);
    expect(travelRuleBlocks(r)).toBeNull();
    expect(isOwnWalletTransfer(r)).toBe(true);
  });

  it('a signature by another key is recorded as FAILED and blocks the withdrawal', () => {
    const other = Uint8Array.from({ length: 32 }, (_, i) => 32 - i);
    const rec = secp256k1.sign(bitcoinMessageHash(challenge), other, { prehash: false, format: 'recovered' });
    const sig = Uint8Array.from(rec);
    sig[0] = 39 + at(rec, 0, 'recovered signature');
    const r = buildTravelRuleRecord(input({ ownership: signedMessageCheck(address, 'mainnet', challenge, base64.encode(sig), now) }), now);
    expect(r.ownership).toMatchObject({ result: 'FAILED' });
    expect(travelRuleBlocks(r)).toMatch(/does not prove/);
    expect(isOwnWalletTransfer(r)).toBe(false);
  });

  it('a stored result that disagrees with its signature is refused (never trust the caller’s verdict)', () => {
    const forged = { ...signedMessageCheck(address, 'mainnet', challenge, sign('something else'), now), result: 'VERIFIED' as const };
    expect(reason(() => buildTravelRuleRecord(input({ ownership: forged }), now))).toBe('INVALID_TRAVEL_RULE');
  });

  it('screening hits block; satoshi tests and declarations are recorded', () => {
    expect(travelRuleBlocks(buildTravelRuleRecord(input({ screening: { status: 'HIT', list: 'DFAT consolidated list', checkedAt: now } }), now))).toMatch(/DFAT/);
    const sat = buildTravelRuleRecord(input({ ownership: { method: 'SATOSHI_TEST', amountSats: 546n, txid: 'ab'.repeat(32), result: 'VERIFIED', checkedAt: now } }), now);
    expect(isOwnWalletTransfer(sat)).toBe(true);
    const pending = buildTravelRuleRecord(input({ ownership: { method: 'SATOSHI_TEST', amountSats: 546n, txid: null, result: 'PENDING', checkedAt: now } }), now);
    expect(travelRuleBlocks(pending)).toMatch(/satoshi test/);
    const decl = buildTravelRuleRecord(input({ ownership: { method: 'DECLARATION', declaredBy: 'alice', statement: 'This Trezor is ours.', result: 'DECLARED', checkedAt: now } }), now);
    expect(isOwnWalletTransfer(decl)).toBe(true);
  });

  it('a VASP wallet needs no ownership check; a self-hosted one does', () => {
    expect(buildTravelRuleRecord(input({ wallet: { kind: 'VASP', vaspName: 'Swyftx', vaspCountry: 'AU' }, ownership: { method: 'NONE' } }), now).wallet.kind).toBe('VASP');
    expect(reason(() => buildTravelRuleRecord(input({ ownership: { method: 'NONE' } }), now))).toBe('INVALID_TRAVEL_RULE');
  });

  it.each([
    [{ withdrawalId: '' }, 'withdrawalId'],
    [{ amountSats: 0n }, 'amountSats'],
    [{ beneficiary: { name: 'X', isOriginator: false, walletAddress: 'bc1qnotanaddress' } }, 'beneficiary.walletAddress'],
    [{ beneficiary: { name: 'Someone Else', isOriginator: true, walletAddress: address } }, 'beneficiary.name'],
    [{ wallet: { kind: 'BANK' } }, 'wallet.kind'],
    [{ wallet: { kind: 'VASP', vaspName: 'X', vaspCountry: 'Australia' } }, 'wallet.vaspCountry'],
    [{ screening: { status: 'MAYBE' } }, 'screening.status'],
  ])('bad field %j → INVALID_TRAVEL_RULE on %s', (over, field) => {
    let err: unknown;
    try {
      buildTravelRuleRecord(input(over as Partial<TravelRuleInput>), now);
    } catch (e) {
      err = e;
    }
    expect(withdrawalReasonOf(err)).toBe('INVALID_TRAVEL_RULE');
    expect((err as { extensions: { field: string } }).extensions.field).toBe(field);
  });

  it('the challenge names the tenant, the address and a nonce', () => {
    expect(challenge).toContain(address);
    expect(challenge).toContain('n0nce0123456789abcdef');
    expect(reason(() => ownershipChallenge('T', address, 'short', now))).toBe('INVALID_TRAVEL_RULE');
  });
});

describe('tax: an own-wallet transfer moves parcels and is not a disposal; its network fee is', () => {
  it('replayed by the tax kernel: parcels move to the destination wallet, one FEE disposal of the fee sats', () => {
    const record = buildTravelRuleRecord(input(), now);
    const treatment = taxTreatmentOf(record, {
      withdrawalId: 'w-1',
      confirmedAt: new Date('2026-03-03T00:00:00Z'),
      exchange: 'kraken',
      destinationId: 'd1',
      receivedSats: 4_998_000n,
      feeSats: 2_000n,
      feeMarketValueAudCents: 200n,
    });
    expect(treatment.kind).toBe('OWN_WALLET_TRANSFER');
    if (treatment.kind !== 'OWN_WALLET_TRANSFER') return;
    const transfer: Transfer = treatment.transfer satisfies TaxTransfer; // the shapes agree at compile time
    const ledger = replayHistory(
      {
        acquisitions: [{ id: 'a1', source: 'PURCHASE_FILL', at: new Date('2026-01-10T00:00:00Z'), sats: 10_000_000n, costAudCents: 1_000_000n, feeAudCents: 0n, exchange: 'kraken' }],
        disposals: [],
        transfers: [transfer],
      },
      { entityType: 'COMPANY', gstRegistered: false },
    );
    const byWallet = Object.fromEntries(ledger.parcels.map((p) => [p.wallet, p.sats]));
    expect(byWallet).toEqual({ kraken: 5_000_000n, 'destination:d1': 4_998_000n });
    expect(ledger.disposals.map((d) => ({ type: d.type, sats: d.sats, proceeds: d.proceedsAudCents }))).toEqual([{ type: 'FEE', sats: 2_000n, proceeds: 200n }]);
  });

  it('a third party’s wallet is not an own-wallet transfer', () => {
    const r = buildTravelRuleRecord(input({ beneficiary: { name: 'Supplier Pty Ltd', isOriginator: false, walletAddress: address } }), now);
    expect(
      taxTreatmentOf(r, { withdrawalId: 'w-1', confirmedAt: now, exchange: 'kraken', destinationId: 'd1', receivedSats: 1n, feeSats: 0n, feeMarketValueAudCents: 0n }),
    ).toEqual({ kind: 'NOT_OWN_WALLET', reason: 'the beneficiary is not the tenant' });
  });
});
