import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64, hex } from '@scure/base';
import { hash160, parseAddress, sha256d, type AddressType, type BitcoinNetwork } from './address';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Proof that the beneficiary controls an address: a signed message.
 *  - BIP 137 "Bitcoin Signed Message" (what Core's signmessage, Electrum, Trezor, Ledger, Coldcard and
 *    Sparrow produce) for P2PKH, P2SH-P2WPKH and P2WPKH: public-key recovery, then HASH160 must match.
 *  - BIP 322 "simple" (witness stack, `smp` prefix or none) for P2WPKH and P2TR key-path.
 * Curve maths is @noble/curves; this file builds BIP 322's two virtual transactions and their BIP 143 /
 * BIP 341 signature hashes, which no library we can load here exposes (checked against BIP 322 vectors).
 * BIP 322 "full"/"proof of funds" and P2WSH scripts need a script interpreter: UNSUPPORTED_SIGNATURE.
 */

export type SignatureFormat = 'BIP137' | 'BIP322_SIMPLE';

export type MessageVerification = {
  valid: boolean;
  format: SignatureFormat;
  addressType: AddressType;
  /** Why it is invalid (for the audit trail), or 'ok'. */
  detail: string;
};

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function varint(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const u32le = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
const ZERO8 = new Uint8Array(8);
const varBytes = (b: Uint8Array): Uint8Array => concat(varint(b.length), b);

// ---- BIP 137 -------------------------------------------------------------------------------

/** Double-SHA256 of "\x18Bitcoin Signed Message:\n" ‖ varint(len) ‖ message, as signmessage signs. */
export function bitcoinMessageHash(message: string): Uint8Array {
  const m = utf8(message);
  return sha256d(concat(varBytes(utf8('Bitcoin Signed Message:\n')), varBytes(m)));
}

function verifyBip137(sig: Uint8Array, message: string, type: AddressType, program: string): MessageVerification {
  const res = (valid: boolean, detail: string): MessageVerification => ({ valid, format: 'BIP137', addressType: type, detail });
  const [header] = sig;
  if (header === undefined || header < 27 || header > 42) return res(false, 'unknown BIP 137 header byte');
  if (type === 'P2TR' || type === 'P2WSH') {
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_SIGNATURE, `a BIP 137 signature cannot prove a ${type} address; sign with BIP 322`, { field: 'signature' });
  }
  const recovery = (header - 27) & 3;
  const compressed = header >= 31;
  // 27–34 name P2PKH; 35–38 P2SH-P2WPKH; 39–42 P2WPKH. Electrum signs segwit with 31–34: the recovered
  // key still has to hash to the address, so accepting it proves the same thing.
  const claimsP2shP2wpkh = header >= 35 && header <= 38;
  const claimsP2wpkh = header >= 39;
  if (type === 'P2PKH' && (claimsP2shP2wpkh || claimsP2wpkh)) return res(false, 'the header names a segwit address, this is P2PKH');
  if (type === 'P2WPKH' && (claimsP2shP2wpkh || !compressed)) return res(false, 'the header does not fit a P2WPKH address');
  if (type === 'P2SH' && (claimsP2wpkh || !compressed)) return res(false, 'the header does not fit a P2SH-P2WPKH address');
  let pub: Uint8Array;
  try {
    const s = secp256k1.Signature.fromBytes(sig.subarray(1), 'compact').addRecoveryBit(recovery);
    pub = s.recoverPublicKey(bitcoinMessageHash(message)).toBytes(compressed);
  } catch {
    return res(false, 'no public key can be recovered from this signature');
  }
  const kh = hash160(pub);
  let committed: Uint8Array;
  if (type === 'P2SH') committed = hash160(concat(Uint8Array.of(0x00, 0x14), kh)); // P2SH-P2WPKH redeem script
  else committed = kh;
  return hex.encode(committed) === program ? res(true, 'ok') : res(false, 'the signature was made by another key');
}

// ---- BIP 322 simple --------------------------------------------------------------------------

function taggedHash(tag: string, ...msgs: Uint8Array[]): Uint8Array {
  const t = sha256(utf8(tag));
  return sha256(concat(t, t, ...msgs));
}

/** BIP 322 message_hash: BIP 340 tagged hash with tag "BIP0322-signed-message". */
export const bip322MessageHash = (message: string): Uint8Array => taggedHash('BIP0322-signed-message', utf8(message));

type TxIn = { prevTxid: Uint8Array; vout: number; scriptSig: Uint8Array; sequence: number };
type TxOut = { script: Uint8Array };

/** Non-witness serialisation with nVersion 0, nLockTime 0 and zero-value outputs (all BIP 322 needs). */
function serialiseTx(inputs: TxIn[], outputs: TxOut[]): Uint8Array {
  return concat(
    u32le(0),
    varint(inputs.length),
    ...inputs.map((i) => concat(i.prevTxid, u32le(i.vout), varBytes(i.scriptSig), u32le(i.sequence))),
    varint(outputs.length),
    ...outputs.map((o) => concat(ZERO8, varBytes(o.script))),
    u32le(0),
  );
}

/** to_spend's txid in internal byte order (reverse it for display). */
export function bip322ToSpendHash(message: string, scriptPubKey: Uint8Array): Uint8Array {
  const scriptSig = concat(Uint8Array.of(0x00, 0x20), bip322MessageHash(message));
  return sha256d(serialiseTx([{ prevTxid: new Uint8Array(32), vout: 0xffffffff, scriptSig, sequence: 0 }], [{ script: scriptPubKey }]));
}

const OP_RETURN = Uint8Array.of(0x6a);

/** to_sign's txid (non-witness, internal byte order). */
export const bip322ToSignHash = (message: string, scriptPubKey: Uint8Array): Uint8Array =>
  sha256d(serialiseTx([{ prevTxid: bip322ToSpendHash(message, scriptPubKey), vout: 0, scriptSig: new Uint8Array(0), sequence: 0 }], [{ script: OP_RETURN }]));

/** BIP 143 signature hash of to_sign's only input, SIGHASH_ALL, amount 0. */
function bip143Sighash(toSpend: Uint8Array, keyHash: Uint8Array): Uint8Array {
  const outpoint = concat(toSpend, u32le(0));
  const scriptCode = concat(Uint8Array.of(0x76, 0xa9, 0x14), keyHash, Uint8Array.of(0x88, 0xac));
  return sha256d(
    concat(
      u32le(0), // nVersion
      sha256d(outpoint), // hashPrevouts
      sha256d(u32le(0)), // hashSequence
      outpoint,
      varBytes(scriptCode),
      ZERO8, // amount
      u32le(0), // nSequence
      sha256d(concat(ZERO8, varBytes(OP_RETURN))), // hashOutputs
      u32le(0), // nLockTime
      u32le(1), // SIGHASH_ALL
    ),
  );
}

/** BIP 341 key-path signature hash of to_sign's only input (SIGHASH_DEFAULT or ALL, no annex). */
function bip341Sighash(toSpend: Uint8Array, scriptPubKey: Uint8Array, hashType: number): Uint8Array {
  return taggedHash(
    'TapSighash',
    Uint8Array.of(0x00), // epoch
    Uint8Array.of(hashType),
    u32le(0), // nVersion
    u32le(0), // nLockTime
    sha256(concat(toSpend, u32le(0))), // sha_prevouts
    sha256(ZERO8), // sha_amounts
    sha256(varBytes(scriptPubKey)), // sha_scriptpubkeys
    sha256(u32le(0)), // sha_sequences
    sha256(concat(ZERO8, varBytes(OP_RETURN))), // sha_outputs
    Uint8Array.of(0x00), // spend_type: key path, no annex
    u32le(0), // input_index
  );
}

function decodeWitness(b: Uint8Array): Uint8Array[] | null {
  let at = 0;
  const readVarint = (): number | null => {
    const first = b[at];
    if (first === undefined) return null;
    at++;
    if (first < 0xfd) return first;
    const size = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    if (at + size > b.length || size === 8) return null;
    const view = new DataView(b.buffer, b.byteOffset + at, size);
    const n = size === 2 ? view.getUint16(0, true) : view.getUint32(0, true);
    at += size;
    return n;
  };
  const count = readVarint();
  if (count === null || count > 100) return null;
  const items: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = readVarint();
    if (len === null || at + len > b.length) return null;
    items.push(b.subarray(at, at + len));
    at += len;
  }
  return at === b.length ? items : null;
}

function verifyBip322Simple(witnessBytes: Uint8Array, message: string, type: AddressType, program: Uint8Array, scriptPubKey: Uint8Array): MessageVerification {
  const res = (valid: boolean, detail: string): MessageVerification => ({ valid, format: 'BIP322_SIMPLE', addressType: type, detail });
  if (type === 'P2PKH' || type === 'P2SH') {
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_SIGNATURE, `a BIP 322 simple signature cannot prove a ${type} address; use a BIP 137 signature`, {
      field: 'signature',
    });
  }
  if (type === 'P2WSH') {
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_SIGNATURE, 'P2WSH (script) signatures need a script interpreter; use a satoshi test or declaration', { field: 'signature' });
  }
  const witness = decodeWitness(witnessBytes);
  if (!witness) throw withdrawalError(WithdrawalReason.INVALID_SIGNATURE, 'the signature is not a consensus-encoded witness stack', { field: 'signature' });
  const toSpend = bip322ToSpendHash(message, scriptPubKey);
  if (type === 'P2WPKH') {
    if (witness.length !== 2) return res(false, 'a P2WPKH witness has a signature and a public key');
    const [sigWithType, pub] = witness;
    if (!sigWithType || !pub || pub.length !== 33 || sigWithType.length < 9) return res(false, 'malformed P2WPKH witness');
    if (hex.encode(hash160(pub)) !== hex.encode(program)) return res(false, 'the public key is not the address’s');
    if (sigWithType.at(-1) !== 0x01) return res(false, 'only SIGHASH_ALL signatures are accepted');
    try {
      const ok = secp256k1.verify(sigWithType.subarray(0, -1), bip143Sighash(toSpend, program), pub, { prehash: false, format: 'der' });
      return ok ? res(true, 'ok') : res(false, 'the signature does not verify');
    } catch {
      return res(false, 'the signature does not verify');
    }
  }
  // P2TR key path: one 64-byte signature (SIGHASH_DEFAULT) or 65 bytes ending in SIGHASH_ALL.
  if (witness.length !== 1) return res(false, 'only key-path taproot signatures are supported');
  const [sig] = witness;
  if (!sig || (sig.length !== 64 && !(sig.length === 65 && sig[64] === 0x01))) return res(false, 'malformed taproot signature');
  try {
    const ok = schnorr.verify(sig.subarray(0, 64), bip341Sighash(toSpend, scriptPubKey, sig.length === 64 ? 0x00 : 0x01), program);
    return ok ? res(true, 'ok') : res(false, 'the signature does not verify');
  } catch {
    return res(false, 'the signature does not verify');
  }
}

function decodeBase64(s: string): Uint8Array {
  try {
    return base64.decode(s);
  } catch {
    throw withdrawalError(WithdrawalReason.INVALID_SIGNATURE, 'the signature is not valid base64', { field: 'signature' });
  }
}

/**
 * Verifies `signature` over `message` for `address` on `network`. A well-formed signature that does not
 * prove the address gives `valid: false` (with why); input that is not a signature at all, or a
 * format we cannot check, throws INVALID_SIGNATURE / UNSUPPORTED_SIGNATURE.
 */
export function verifyMessageSignature(input: { address: string; message: string; signature: string; network: BitcoinNetwork }): MessageVerification {
  const parsed = parseAddress(input?.address, input.network);
  if (typeof input.message !== 'string' || input.message.length > 10_000) {
    throw withdrawalError(WithdrawalReason.INVALID_SIGNATURE, 'the message must be text of at most 10,000 characters', { field: 'message' });
  }
  if (typeof input.signature !== 'string') throw withdrawalError(WithdrawalReason.INVALID_SIGNATURE, 'the signature must be text', { field: 'signature' });
  const sig = input.signature.trim();
  if (sig.length < 4 || sig.length > 20_000) throw withdrawalError(WithdrawalReason.INVALID_SIGNATURE, 'signature too short or too long', { field: 'signature' });
  const program = hex.decode(parsed.program);
  const script = hex.decode(parsed.scriptPubKey);
  const prefix = sig.slice(0, 3);
  if (prefix === 'ful' || prefix === 'pof') {
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_SIGNATURE, 'BIP 322 full and proof-of-funds signatures are not supported; sign with the simple variant or BIP 137', {
      field: 'signature',
    });
  }
  if (prefix === 'smp') return verifyBip322Simple(decodeBase64(sig.slice(3)), input.message, parsed.type, program, script);
  const bytes = decodeBase64(sig);
  // 65 bytes is a compact recoverable signature; BIP 322 lets an unprefixed signature be "simple".
  if (bytes.length === 65) return verifyBip137(bytes, input.message, parsed.type, parsed.program);
  return verifyBip322Simple(bytes, input.message, parsed.type, program, script);
}
