import { createHash } from 'node:crypto';
import { AmlReason, amlError } from './errors';

/**
 * Bitcoin address validation and the canonical form destinations are compared in: base58check
 * (P2PKH, P2SH) kept as written (case matters), segwit bech32 (BIP 173, witness v0) and bech32m
 * (BIP 350, v1+) lower-cased (their case carries no information, and mixed case is invalid).
 */

export type Network = 'bitcoin' | 'bitcoin-testnet';
export const NETWORKS: readonly Network[] = ['bitcoin', 'bitcoin-testnet'];

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const VERSIONS: Record<Network, number[]> = { bitcoin: [0x00, 0x05], 'bitcoin-testnet': [0x6f, 0xc4] };
const HRP: Record<Network, string> = { bitcoin: 'bc', 'bitcoin-testnet': 'tb' };
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

function base58Decode(s: string): Uint8Array | null {
  let n = 0n;
  for (const c of s) {
    const v = BASE58.indexOf(c);
    if (v < 0) return null;
    n = n * 58n + BigInt(v);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const c of s) {
    if (c !== '1') break;
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}

function isBase58Address(s: string, network: Network): boolean {
  if (s.length < 26 || s.length > 35) return false;
  const b = base58Decode(s);
  if (!b || b.length !== 25 || b[0] === undefined || !VERSIONS[network].includes(b[0])) return false;
  const check = sha256(sha256(b.subarray(0, 21))).subarray(0, 4);
  return Buffer.from(b.subarray(21)).equals(check);
}

function polymod(values: number[]): number {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    G.forEach((g, i) => {
      if ((top >>> i) & 1) chk ^= g;
    });
  }
  return chk >>> 0;
}

const hrpExpand = (hrp: string): number[] => [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];

function convertBits(data: number[], from: number, to: number): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
  }
  if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) return null; // no padding allowed when decoding
  return out;
}

function isSegwitAddress(lower: string, network: Network): boolean {
  if (lower.length > 90) return false;
  const sep = lower.lastIndexOf('1');
  if (sep < 1 || sep + 7 > lower.length || lower.slice(0, sep) !== HRP[network]) return false;
  const data: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const v = BECH32.indexOf(c);
    if (v < 0) return false;
    data.push(v);
  }
  const [version] = data;
  if (version === undefined || version > 16) return false;
  const constant = polymod([...hrpExpand(HRP[network]), ...data]);
  if (constant !== (version === 0 ? BECH32_CONST : BECH32M_CONST)) return false;
  const program = convertBits(data.slice(1, -6), 5, 8);
  if (!program || program.length < 2 || program.length > 40) return false;
  return version !== 0 || program.length === 20 || program.length === 32;
}

/** The canonical form of a valid address on `network`, or null. */
export function canonicalAddress(address: string, network: Network): string | null {
  const a = address.trim();
  const lower = a.toLowerCase();
  if (lower.startsWith(`${HRP[network]}1`)) {
    if (a !== lower && a !== a.toUpperCase()) return null; // BIP 173: mixed case is invalid
    return isSegwitAddress(lower, network) ? lower : null;
  }
  return isBase58Address(a, network) ? a : null;
}

export function isNetwork(value: string): value is Network {
  return (NETWORKS as readonly string[]).includes(value);
}

/** Canonical address or INVALID_ADDRESS. */
export function normaliseAddress(address: unknown, network: Network, field = 'address'): string {
  const c = typeof address === 'string' ? canonicalAddress(address, network) : null;
  if (c === null) throw amlError(AmlReason.INVALID_ADDRESS, `not a valid ${network} address`, { field });
  return c;
}
