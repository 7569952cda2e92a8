import { HDKey } from '@scure/bip32';
import { base58 } from '@scure/base';
import {
  PRIVATE_EXTENDED_VERSIONS,
  assertNetwork,
  base58checkCodec,
  encodeAddress,
  hash160,
  type AddressType,
  type BitcoinNetwork,
} from './address';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Extended public keys (BIP 32) in their SLIP-132 dressings, and the receive addresses they derive:
 * BIP 44 (P2PKH), BIP 49 (P2SH-P2WPKH), BIP 84 (P2WPKH). Key maths is @scure/bip32's. Private keys
 * are refused before any parsing and never appear in an error, a log or a return value.
 */

/** How a derived public key becomes an address. */
export type XpubScriptType = 'P2PKH' | 'P2SH_P2WPKH' | 'P2WPKH';
export const XPUB_SCRIPT_TYPES: readonly XpubScriptType[] = ['P2PKH', 'P2SH_P2WPKH', 'P2WPKH'];

/** Networks an extended key can belong to: test versions serve testnet, signet and regtest alike. */
export type XpubNetworkClass = 'mainnet' | 'test';

type VersionInfo = { prefix: string; network: XpubNetworkClass; scriptType: XpubScriptType; private: number };

/** SLIP-0132 single-signature public versions (multisig Ypub/Zpub/Upub/Vpub need descriptors: not supported). */
export const SLIP132_PUBLIC_VERSIONS: Readonly<Record<number, VersionInfo>> = {
  0x0488b21e: { prefix: 'xpub', network: 'mainnet', scriptType: 'P2PKH', private: 0x0488ade4 },
  0x049d7cb2: { prefix: 'ypub', network: 'mainnet', scriptType: 'P2SH_P2WPKH', private: 0x049d7878 },
  0x04b24746: { prefix: 'zpub', network: 'mainnet', scriptType: 'P2WPKH', private: 0x04b2430c },
  0x043587cf: { prefix: 'tpub', network: 'test', scriptType: 'P2PKH', private: 0x04358394 },
  0x044a5262: { prefix: 'upub', network: 'test', scriptType: 'P2SH_P2WPKH', private: 0x044a4e28 },
  0x045f1cf6: { prefix: 'vpub', network: 'test', scriptType: 'P2WPKH', private: 0x045f18bc },
};
const MULTISIG_PUBLIC_VERSIONS = new Set([0x0295b43f, 0x02aa7ed3, 0x024289ef, 0x02575483]);
/** xpub/tpub carry no script type (SLIP-132 says "P2PKH or P2SH"; many wallets export BIP 84 keys as xpub). */
const GENERIC_VERSIONS = new Set([0x0488b21e, 0x043587cf]);

const VERSION_FOR: Record<XpubNetworkClass, Record<XpubScriptType, number>> = {
  mainnet: { P2PKH: 0x0488b21e, P2SH_P2WPKH: 0x049d7cb2, P2WPKH: 0x04b24746 },
  test: { P2PKH: 0x043587cf, P2SH_P2WPKH: 0x044a5262, P2WPKH: 0x045f1cf6 },
};

export const HARDENED = 0x80000000;
/** The receive chain of BIP 44/49/84 (change is 1). */
export const RECEIVE_CHAIN = 0;

export type ExtendedPublicKey = {
  /** As given (trimmed): the SLIP-132 string the user pasted. */
  text: string;
  prefix: string;
  network: XpubNetworkClass;
  scriptType: XpubScriptType;
  depth: number;
  /** Child number of this key within its parent (≥ 2^31 when hardened, as account keys are). */
  childNumber: number;
  parentFingerprint: number;
  /** This key's own fingerprint (first 4 bytes of HASH160 of its public key), as wallets show it. */
  fingerprint: number;
  publicKeyHex: string;
  /** The key as @scure/bip32 holds it (public only); kept off JSON by not being enumerable. */
  readonly hd: HDKey;
};

export type DerivedAddress = {
  address: string;
  type: AddressType;
  /** Relative path from the extended key: `0/<index>`. */
  path: string;
  index: number;
  publicKeyHex: string;
};

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const invalidKey = (message: string) => withdrawalError(WithdrawalReason.INVALID_KEY, message, { field: 'xpub' });

/** The big-endian uint32 at byte `at` (a RangeError past the end). */
function read4(b: Uint8Array, at = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}

/**
 * Parses and validates an extended public key. `scriptType` may only be given for xpub/tpub (which
 * carry none; default P2PKH per SLIP-132); for ypub/zpub/upub/vpub it must match the version.
 */
export function parseExtendedPublicKey(input: unknown, opts: { network?: BitcoinNetwork; scriptType?: XpubScriptType } = {}): ExtendedPublicKey {
  if (typeof input !== 'string') throw withdrawalError(WithdrawalReason.MALFORMED, 'an extended public key must be a string', { field: 'xpub' });
  const text = input.trim();
  if (text.length < 100 || text.length > 120) throw withdrawalError(WithdrawalReason.MALFORMED, 'not an extended public key (wrong length)', { field: 'xpub' });
  let raw: Uint8Array;
  try {
    raw = base58.decode(text);
  } catch {
    throw withdrawalError(WithdrawalReason.MALFORMED, 'not an extended public key (not base58)', { field: 'xpub' });
  }
  if (raw.length !== 82) throw withdrawalError(WithdrawalReason.MALFORMED, 'not an extended public key (wrong length)', { field: 'xpub' });
  let payload: Uint8Array;
  try {
    payload = base58checkCodec.decode(text);
  } catch {
    throw withdrawalError(WithdrawalReason.BAD_CHECKSUM, 'the extended key checksum does not match: check for a typo', { field: 'xpub' });
  }
  const version = read4(payload);
  // Key data 0x00‖k is a private key whatever the version says (BIP 32 vector 5): refuse it as one.
  if (PRIVATE_EXTENDED_VERSIONS.has(version) || payload[45] === 0x00) {
    throw withdrawalError(
      WithdrawalReason.PRIVATE_KEY_REFUSED,
      'this is an extended PRIVATE key: it was not stored; give the matching public key (xpub/ypub/zpub) instead',
      { field: 'xpub' },
    );
  }
  if (MULTISIG_PUBLIC_VERSIONS.has(version)) {
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'multisig extended keys (Ypub/Zpub/Upub/Vpub) are not supported; add a multisig address instead', {
      field: 'xpub',
    });
  }
  const info = SLIP132_PUBLIC_VERSIONS[version];
  if (!info) throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'unknown extended key version (not a bitcoin xpub/ypub/zpub/tpub/upub/vpub)', { field: 'xpub' });
  if (opts.network !== undefined) {
    assertNetwork(opts.network);
    const want: XpubNetworkClass = opts.network === 'mainnet' ? 'mainnet' : 'test';
    if (want !== info.network) {
      throw withdrawalError(WithdrawalReason.WRONG_NETWORK, `this ${info.prefix} is for ${info.network === 'mainnet' ? 'mainnet' : 'test networks'}, not ${opts.network}`, {
        field: 'xpub',
        expected: opts.network,
        actual: info.network,
      });
    }
  }
  let scriptType = info.scriptType;
  if (opts.scriptType !== undefined) {
    if (!XPUB_SCRIPT_TYPES.includes(opts.scriptType)) throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'unknown script type', { field: 'scriptType' });
    if (!GENERIC_VERSIONS.has(version) && opts.scriptType !== info.scriptType) {
      throw withdrawalError(WithdrawalReason.SCRIPT_TYPE_MISMATCH, `a ${info.prefix} derives ${info.scriptType} addresses, not ${opts.scriptType}`, {
        field: 'scriptType',
      });
    }
    scriptType = opts.scriptType;
  }
  const depth = payload[4];
  const parentFingerprint = read4(payload, 5);
  const childNumber = read4(payload, 9);
  if (depth === 0 && (parentFingerprint !== 0 || childNumber !== 0)) throw invalidKey('a depth-0 key must have no parent fingerprint and child number 0');
  let hd: HDKey;
  try {
    hd = HDKey.fromExtendedKey(text, { public: version, private: info.private });
  } catch {
    throw invalidKey('the extended key does not hold a valid public key');
  }
  if (hd.privateKey) throw withdrawalError(WithdrawalReason.PRIVATE_KEY_REFUSED, 'this is an extended private key', { field: 'xpub' }); // belt and braces
  const pub = hd.publicKey;
  if (!pub) throw invalidKey('the extended key holds no public key');
  const key = {
    text,
    prefix: info.prefix,
    network: info.network,
    scriptType,
    depth,
    childNumber,
    parentFingerprint,
    fingerprint: hd.fingerprint,
    publicKeyHex: toHex(pub),
  };
  return Object.defineProperty(key, 'hd', { value: hd, enumerable: false }) as ExtendedPublicKey;
}

function addressFor(pub: Uint8Array, scriptType: XpubScriptType, network: BitcoinNetwork): { address: string; type: AddressType } {
  const h = hash160(pub);
  switch (scriptType) {
    case 'P2PKH':
      return { address: encodeAddress('P2PKH', h, network), type: 'P2PKH' };
    case 'P2WPKH':
      return { address: encodeAddress('P2WPKH', h, network), type: 'P2WPKH' };
    case 'P2SH_P2WPKH': {
      // BIP 49: redeemScript = OP_0 PUSH20(keyhash); the address commits to HASH160(redeemScript).
      const redeem = new Uint8Array(22);
      redeem[0] = 0x00;
      redeem[1] = 0x14;
      redeem.set(h, 2);
      return { address: encodeAddress('P2SH', hash160(redeem), network), type: 'P2SH' };
    }
  }
}

export function assertDerivationIndex(index: unknown): asserts index is number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= HARDENED) {
    throw withdrawalError(WithdrawalReason.INVALID_DERIVATION_INDEX, 'a derivation index must be a whole number from 0 to 2147483647', { field: 'index' });
  }
}

/** The public child at `path` (non-hardened indexes only: an xpub cannot derive hardened children). */
export function derivePublicChild(key: ExtendedPublicKey, path: readonly number[]): HDKey {
  let node = key.hd;
  for (const i of path) {
    assertDerivationIndex(i);
    node = node.deriveChild(i);
  }
  return node;
}

/** The receive address `<key>/0/<index>` (for an account key: m/purpose'/coin'/account'/0/index). */
export function deriveReceiveAddress(key: ExtendedPublicKey, index: number, network: BitcoinNetwork): DerivedAddress {
  assertNetwork(network);
  assertDerivationIndex(index);
  if ((network === 'mainnet' ? 'mainnet' : 'test') !== key.network) {
    throw withdrawalError(WithdrawalReason.WRONG_NETWORK, `this ${key.prefix} cannot derive ${network} addresses`, { field: 'network' });
  }
  const child = derivePublicChild(key, [RECEIVE_CHAIN, index]);
  const pub = child.publicKey;
  if (!pub) throw invalidKey('derivation produced no public key');
  return { ...addressFor(pub, key.scriptType, network), path: `${RECEIVE_CHAIN}/${index}`, index, publicKeyHex: toHex(pub) };
}

/** The same key re-dressed with another SLIP-132 version (e.g. a BIP 84 key exported as xpub → zpub). */
export function withVersion(key: ExtendedPublicKey, scriptType: XpubScriptType): string {
  const payload = base58checkCodec.decode(key.text);
  const version = VERSION_FOR[key.network][scriptType];
  const out = Uint8Array.from(payload);
  out[0] = version >>> 24;
  out[1] = (version >>> 16) & 0xff;
  out[2] = (version >>> 8) & 0xff;
  out[3] = version & 0xff;
  return base58checkCodec.encode(out);
}
