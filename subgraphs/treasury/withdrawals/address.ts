import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base58, bech32, bech32m, createBase58check, hex } from '@scure/base';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Bitcoin address validation and normalisation: base58check P2PKH/P2SH, bech32 (BIP 173) witness v0
 * P2WPKH/P2WSH, bech32m (BIP 350) v1 P2TR. The checksums are @scure/base's; this file only decides
 * what each decoded payload means. Input is never echoed in an error (a pasted string may be a key).
 */

export type BitcoinNetwork = 'mainnet' | 'testnet' | 'regtest';
export const BITCOIN_NETWORKS: readonly BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest'];

export type AddressType = 'P2PKH' | 'P2SH' | 'P2WPKH' | 'P2WSH' | 'P2TR';
export const ADDRESS_TYPES: readonly AddressType[] = ['P2PKH', 'P2SH', 'P2WPKH', 'P2WSH', 'P2TR'];

export type AddressEncoding = 'base58check' | 'bech32' | 'bech32m';

export type ParsedAddress = {
  /** Canonical form: base58 as written, bech32/bech32m lower-cased. Parsing it again gives itself. */
  address: string;
  type: AddressType;
  encoding: AddressEncoding;
  /** Networks the address is valid on (never none): testnet base58 prefixes are shared with regtest (and signet). */
  networks: readonly [BitcoinNetwork, ...BitcoinNetwork[]];
  /** null for base58 addresses. */
  witnessVersion: number | null;
  /** The 20-byte hash (P2PKH, P2SH, P2WPKH) or the witness program (P2WSH, P2TR), hex. */
  program: string;
  /** The output script this address pays to, hex (what AML lists and block explorers match on). */
  scriptPubKey: string;
};

const MAX_INPUT = 120; // longer than any address or extended key we might explain
const BECH32_MAX = 90;
const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BASE58_CHARSET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

const HRP: Record<BitcoinNetwork, string> = { mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' };
const HRP_NETWORK: Record<string, BitcoinNetwork> = { bc: 'mainnet', tb: 'testnet', bcrt: 'regtest' };

type Base58Kind = { type: 'P2PKH' | 'P2SH'; networks: ParsedAddress['networks'] };
const BASE58_VERSIONS: Record<number, Base58Kind> = {
  0x00: { type: 'P2PKH', networks: ['mainnet'] },
  0x05: { type: 'P2SH', networks: ['mainnet'] },
  0x6f: { type: 'P2PKH', networks: ['testnet', 'regtest'] },
  0xc4: { type: 'P2SH', networks: ['testnet', 'regtest'] },
};
const BASE58_VERSION_FOR: Record<'P2PKH' | 'P2SH', Record<BitcoinNetwork, number>> = {
  P2PKH: { mainnet: 0x00, testnet: 0x6f, regtest: 0x6f },
  P2SH: { mainnet: 0x05, testnet: 0xc4, regtest: 0xc4 },
};
/** WIF private keys (mainnet 0x80, test 0xef): refused loudly, never treated as an address. */
const WIF_VERSIONS = new Set([0x80, 0xef]);
/** BIP32/SLIP-132 private extended-key versions (xprv yprv zprv Yprv Zprv tprv uprv vprv Uprv Vprv). */
export const PRIVATE_EXTENDED_VERSIONS: ReadonlySet<number> = new Set([
  0x0488ade4, 0x049d7878, 0x04b2430c, 0x0295b005, 0x02aa7a99, 0x04358394, 0x044a4e28, 0x045f18bc, 0x024285b5, 0x02575048,
]);

export const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));
export const hash160 = (b: Uint8Array): Uint8Array => ripemd160(sha256(b));
export const base58checkCodec = createBase58check(sha256);

const malformed = (message: string) => withdrawalError(WithdrawalReason.MALFORMED, message, { field: 'address' });

function scriptFor(type: AddressType, program: Uint8Array, witnessVersion: number | null): string {
  const p = hex.encode(program);
  const push = program.length.toString(16).padStart(2, '0');
  switch (type) {
    case 'P2PKH':
      return `76a914${p}88ac`;
    case 'P2SH':
      return `a914${p}87`;
    default: {
      const v = witnessVersion ?? 0;
      const op = v === 0 ? '00' : (0x50 + v).toString(16);
      return `${op}${push}${p}`;
    }
  }
}

/** The big-endian uint32 at the start of `b` (a RangeError when shorter than 4 bytes). */
function read4(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
}

function parseBase58(s: string): ParsedAddress {
  let raw: Uint8Array;
  try {
    raw = base58.decode(s);
  } catch {
    throw malformed('not a valid base58 string');
  }
  if (raw.length < 5) throw malformed('too short to be an address');
  let payload: Uint8Array;
  try {
    payload = base58checkCodec.decode(s);
  } catch {
    throw withdrawalError(WithdrawalReason.BAD_CHECKSUM, 'the address checksum does not match: check for a typo', { field: 'address' });
  }
  const [prefix] = payload;
  if (prefix === undefined) throw malformed('the address has no data');
  if ((payload.length === 33 || payload.length === 34) && WIF_VERSIONS.has(prefix)) {
    throw withdrawalError(WithdrawalReason.PRIVATE_KEY_REFUSED, 'this is a private key, not an address: never share it; it was not stored', {
      field: 'address',
    });
  }
  if (payload.length === 78) {
    if (PRIVATE_EXTENDED_VERSIONS.has(read4(payload))) {
      throw withdrawalError(WithdrawalReason.PRIVATE_KEY_REFUSED, 'this is an extended private key: never share it; it was not stored', {
        field: 'address',
      });
    }
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'this is an extended public key: add it as an XPUB destination instead', {
      field: 'address',
    });
  }
  const kind = payload.length === 21 ? BASE58_VERSIONS[prefix] : undefined;
  if (!kind) throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'not a bitcoin P2PKH or P2SH address', { field: 'address' });
  const program = payload.subarray(1);
  return {
    address: s,
    type: kind.type,
    encoding: 'base58check',
    networks: kind.networks,
    witnessVersion: null,
    program: hex.encode(program),
    scriptPubKey: scriptFor(kind.type, program, null),
  };
}

function parseSegwit(s: string, lower: string, hrp: string, network: BitcoinNetwork): ParsedAddress {
  if (s !== lower && s !== s.toUpperCase()) throw malformed('mixed upper and lower case is not allowed in a bech32 address');
  if (lower.length > BECH32_MAX) throw malformed('too long for a bech32 address');
  const data = lower.slice(hrp.length + 1);
  for (const c of data) if (!BECH32_CHARSET.includes(c)) throw malformed('contains a character bech32 does not use');
  if (data.length < 6) throw malformed('too short to carry a bech32 checksum');
  const asBech32 = bech32.decodeUnsafe(lower, BECH32_MAX);
  const asBech32m = asBech32 ? undefined : bech32m.decodeUnsafe(lower, BECH32_MAX);
  const decoded = asBech32 ?? asBech32m;
  if (!decoded) throw withdrawalError(WithdrawalReason.BAD_CHECKSUM, 'the address checksum does not match: check for a typo', { field: 'address' });
  const encoding: AddressEncoding = asBech32 ? 'bech32' : 'bech32m';
  const [version] = decoded.words;
  if (version === undefined) throw malformed('the address has no data');
  if (version > 16) throw malformed('invalid witness version');
  // BIP 350: v0 must carry a bech32 checksum and v1+ a bech32m one; the other is a checksum error.
  if ((version === 0) !== (encoding === 'bech32')) {
    throw withdrawalError(WithdrawalReason.BAD_CHECKSUM, `witness v${version} needs a ${version === 0 ? 'bech32' : 'bech32m'} checksum`, {
      field: 'address',
    });
  }
  const program = bech32.fromWordsUnsafe(decoded.words.slice(1));
  if (!program) throw malformed('invalid padding in the witness program');
  if (program.length < 2 || program.length > 40) throw malformed('invalid witness program length');
  let type: AddressType;
  if (version === 0) {
    if (program.length === 20) type = 'P2WPKH';
    else if (program.length === 32) type = 'P2WSH';
    else throw malformed('a witness v0 program must be 20 or 32 bytes');
  } else if (version === 1 && program.length === 32) {
    type = 'P2TR';
  } else {
    // Valid by BIP 350 but no wallet should hand these out yet: sending there could burn the bitcoin.
    throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, `witness v${version} outputs of ${program.length} bytes are not supported destinations`, {
      field: 'address',
    });
  }
  return {
    address: lower,
    type,
    encoding,
    networks: [network],
    witnessVersion: version,
    program: hex.encode(program),
    scriptPubKey: scriptFor(type, program, version),
  };
}

/** Decodes any bitcoin address without a network in mind (for detection). Throws a typed AppError. */
export function decodeAddress(input: unknown): ParsedAddress {
  if (typeof input !== 'string') throw malformed('an address must be a string');
  const s = input.trim();
  if (s.length === 0) throw malformed('the address is empty');
  if (s.length > MAX_INPUT) throw malformed('too long to be an address');
  const lower = s.toLowerCase();
  const sep = lower.lastIndexOf('1');
  const hrp = sep > 0 ? lower.slice(0, sep) : '';
  // Own keys only: `constructor1…` must not look like a segwit prefix.
  const segwitNetwork = Object.hasOwn(HRP_NETWORK, hrp) ? HRP_NETWORK[hrp] : undefined;
  if (segwitNetwork) return parseSegwit(s, lower, hrp, segwitNetwork);
  if ([...s].every((c) => BASE58_CHARSET.includes(c))) return parseBase58(s);
  if (sep > 0 && [...lower.slice(sep + 1)].every((c) => BECH32_CHARSET.includes(c))) {
    throw malformed('not a bitcoin address (unknown human-readable part)');
  }
  throw malformed('not a bitcoin address');
}

/** The address parsed and checked for `network`: WRONG_NETWORK when it is valid elsewhere. */
export function parseAddress(input: unknown, network: BitcoinNetwork): ParsedAddress {
  assertNetwork(network);
  const parsed = decodeAddress(input);
  if (!parsed.networks.includes(network)) {
    throw withdrawalError(WithdrawalReason.WRONG_NETWORK, `this is a ${parsed.networks.join('/')} address, not a ${network} one`, {
      field: 'address',
      expected: network,
      actual: parsed.networks[0],
    });
  }
  return parsed;
}

/** The canonical text of a valid address on `network`; parsing the result again returns it unchanged. */
export const normaliseAddress = (input: unknown, network: BitcoinNetwork): string => parseAddress(input, network).address;

export function isValidAddress(input: unknown, network: BitcoinNetwork): boolean {
  try {
    parseAddress(input, network);
    return true;
  } catch {
    return false;
  }
}

export function isBitcoinNetwork(v: unknown): v is BitcoinNetwork {
  return typeof v === 'string' && (BITCOIN_NETWORKS as readonly string[]).includes(v);
}

export function assertNetwork(v: unknown): asserts v is BitcoinNetwork {
  if (!isBitcoinNetwork(v)) throw withdrawalError(WithdrawalReason.MALFORMED, `network must be one of ${BITCOIN_NETWORKS.join(', ')}`, { field: 'network' });
}

/** Encodes a hash or witness program as an address of `type` on `network` (used for derived addresses). */
export function encodeAddress(type: AddressType, program: Uint8Array, network: BitcoinNetwork): string {
  if (type === 'P2PKH' || type === 'P2SH') {
    if (program.length !== 20) throw withdrawalError(WithdrawalReason.MALFORMED, `${type} needs a 20-byte hash`);
    const payload = new Uint8Array(21);
    payload[0] = BASE58_VERSION_FOR[type][network];
    payload.set(program, 1);
    return base58checkCodec.encode(payload);
  }
  const version = type === 'P2TR' ? 1 : 0;
  const want = type === 'P2WPKH' ? 20 : 32;
  if (program.length !== want) throw withdrawalError(WithdrawalReason.MALFORMED, `${type} needs a ${want}-byte program`);
  const words = [version, ...bech32.toWords(program)];
  return version === 0 ? bech32.encode(HRP[network], words) : bech32m.encode(HRP[network], words);
}
