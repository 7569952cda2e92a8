import fc from 'fast-check';
import { canonicalAddress } from '../../compliance/aml/bitcoin-address';
import { bech32, bech32m, hex } from '@scure/base';
import { decodeAddress, encodeAddress, isValidAddress, normaliseAddress, parseAddress, type AddressType, type BitcoinNetwork } from './address';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

describe('BIP 350 segwit address vectors (valid)', () => {
  // BIP 350 "Test vectors for v0-v16 native segregated witness addresses": address → scriptPubKey.
  const supported: [string, string, AddressType, BitcoinNetwork][] = [
    ['BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', '0014751e76e8199196d454941c45d1b3a323f1433bd6', 'P2WPKH', 'mainnet'],
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7', '00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262', 'P2WSH', 'testnet'],
    ['tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy', '0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433', 'P2WSH', 'testnet'],
    ['tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c', '5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433', 'P2TR', 'testnet'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', '512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'P2TR', 'mainnet'],
  ];
  it.each(supported)('%s → %s', (addr, script, type, network) => {
    const p = parseAddress(addr, network);
    expect(p).toMatchObject({ scriptPubKey: script, type, address: addr.toLowerCase(), networks: [network] });
    expect(p.encoding).toBe(type === 'P2TR' ? 'bech32m' : 'bech32');
  });

  // Valid per BIP 350 (future witness versions / lengths) but refused as destinations: funds could be burnt.
  it.each([
    'bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y',
    'BC1SW50QGDZ25J',
    'bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs',
  ])('%s decodes but is UNSUPPORTED_TYPE', (addr) => {
    expect(reason(() => parseAddress(addr, 'mainnet'))).toBe('UNSUPPORTED_TYPE');
  });
});

describe('BIP 350 / BIP 173 invalid segwit addresses', () => {
  // Each with the reason the BIP gives, mapped to our typed reason.
  const invalid: [string, string, string][] = [
    ['tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut', 'invalid human-readable part', 'MALFORMED'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd', 'bech32 instead of bech32m', 'BAD_CHECKSUM'],
    ['tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf', 'bech32 instead of bech32m', 'BAD_CHECKSUM'],
    ['BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL', 'bech32 instead of bech32m', 'BAD_CHECKSUM'],
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh', 'bech32m instead of bech32', 'BAD_CHECKSUM'],
    ['tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47', 'bech32m instead of bech32', 'BAD_CHECKSUM'],
    ['bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4', 'invalid character in checksum', 'MALFORMED'],
    ['BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R', 'invalid witness version', 'MALFORMED'],
    ['bc1pw5dgrnzv', 'invalid program length (1 byte)', 'MALFORMED'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav', 'invalid program length (41 bytes)', 'MALFORMED'],
    ['BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P', 'invalid program length for witness v0', 'MALFORMED'],
    ['tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq', 'mixed case', 'MALFORMED'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf', 'zero padding of more than 4 bits', 'MALFORMED'],
    ['tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j', 'non-zero padding in 8-to-5 conversion', 'MALFORMED'],
    ['bc1gmk9yu', 'empty data section', 'MALFORMED'],
    // BIP 173's own invalid list (v0 cases)
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5', 'invalid checksum', 'BAD_CHECKSUM'],
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7', 'mixed case', 'MALFORMED'],
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv', 'non-zero padding in 8-to-5 conversion', 'MALFORMED'],
  ];
  it.each(invalid)('%s (%s) → %s', (addr, _why, expected) => {
    expect(reason(() => decodeAddress(addr))).toBe(expected);
  });

  it('BIP 173 v1+ addresses checksummed with bech32 (pre-BIP 350) are checksum errors now', () => {
    expect(reason(() => decodeAddress('bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx'))).toBe('BAD_CHECKSUM');
    expect(reason(() => decodeAddress('BC1SW50QA3JX3S'))).toBe('BAD_CHECKSUM');
    // BIP 173 lists these v2/v3 strings as invalid for padding/length; with BIP 350 their bech32 checksum fails first.
    expect(reason(() => decodeAddress('bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du'))).toBe('BAD_CHECKSUM');
    expect(reason(() => decodeAddress('bc1rw5uspcuh'))).toBe('BAD_CHECKSUM');
  });
});

describe('base58check vectors (Bitcoin Core src/test/data/key_io_valid.json)', () => {
  const valid: [string, string, AddressType, BitcoinNetwork[]][] = [
    ['1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo', '76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac', 'P2PKH', ['mainnet']],
    ['36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm', 'a914373b819a068f32b7a6b38b6b38729647cfde01c287', 'P2SH', ['mainnet']],
    ['mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ', '76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac', 'P2PKH', ['testnet', 'regtest']],
    ['2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK', 'a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187', 'P2SH', ['testnet', 'regtest']],
    ['n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ', '76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac', 'P2PKH', ['testnet', 'regtest']],
    ['2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA', 'a91436e9f191e0b75036a77f65e2eaa4752443233fbe87', 'P2SH', ['testnet', 'regtest']],
  ];
  it.each(valid)('%s → %s', (addr, script, type, networks) => {
    expect(decodeAddress(addr)).toMatchObject({ address: addr, scriptPubKey: script, type, networks, encoding: 'base58check' });
  });

  it('segwit vectors from the same file, including regtest', () => {
    expect(parseAddress('bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9', 'regtest').scriptPubKey).toBe('00146f58bac9506f9bfb821d62e69330410bb56f0085');
    expect(parseAddress('bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh', 'regtest').scriptPubKey).toBe(
      '51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac',
    );
    expect(parseAddress('bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu', 'mainnet').scriptPubKey).toBe(
      '51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75',
    );
  });

  it('a one-character typo in a base58 address is BAD_CHECKSUM', () => {
    expect(reason(() => decodeAddress('1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp'))).toBe('BAD_CHECKSUM');
    expect(reason(() => decodeAddress('36j4NfKv6Akva9amjWrLG6MuSQym1GuEmn'))).toBe('BAD_CHECKSUM');
  });

  it('WIF private keys are refused as PRIVATE_KEY_REFUSED, and the key is not in the error', () => {
    for (const wif of ['5JuW2AMDYu4xVwRG9DZW18VbzQrGcd5RCgb99sS6ehJsNQXu5b9', 'L5nJeqKmpHp4P7F8ZYyjwc5a7P4d8EabuGAzfGJk7yC1BJyzNaEd', 'cV83kKisF3RQSvXbUCm9ox3kaz5JjEUBWcx8tNydfGJcyeUxuH47']) {
      let err: unknown;
      try {
        decodeAddress(wif);
      } catch (e) {
        err = e;
      }
      expect(withdrawalReasonOf(err)).toBe('PRIVATE_KEY_REFUSED');
      expect(JSON.stringify({ m: (err as Error).message, x: (err as { extensions: unknown }).extensions })).not.toContain(wif);
    }
  });

  it('extended keys pasted as an address are explained, private ones refused', () => {
    expect(reason(() => decodeAddress('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs'))).toBe(
      'UNSUPPORTED_TYPE',
    );
    expect(reason(() => decodeAddress('xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi'))).toBe(
      'PRIVATE_KEY_REFUSED',
    );
  });

  it('another coin’s base58 address (Litecoin L…, Dogecoin D…) is UNSUPPORTED_TYPE', () => {
    expect(reason(() => decodeAddress('DFpN6QqFfUm3gKNaxN6tNcab1FArL9cZLE'))).toBe('UNSUPPORTED_TYPE');
  });
});

describe('network detection', () => {
  it('WRONG_NETWORK for a valid address of another network, with both networks named', () => {
    let err: unknown;
    try {
      parseAddress('tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7', 'mainnet');
    } catch (e) {
      err = e;
    }
    expect(withdrawalReasonOf(err)).toBe('WRONG_NETWORK');
    expect((err as { extensions: Record<string, unknown> }).extensions).toMatchObject({ code: 'BAD_USER_INPUT', expected: 'mainnet', actual: 'testnet' });
    expect(reason(() => parseAddress('1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo', 'testnet'))).toBe('WRONG_NETWORK');
    expect(reason(() => parseAddress('bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9', 'testnet'))).toBe('WRONG_NETWORK');
    expect(isValidAddress('mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ', 'regtest')).toBe(true);
  });

  it('bad input is MALFORMED, never a crash', () => {
    for (const bad of [undefined, null, 42, '', '   ', 'hello world', 'bc1', '0x52908400098527886E0F7030069857D2E4169EE7', 'a'.repeat(500), {}]) {
      expect(reason(() => decodeAddress(bad))).toBe('MALFORMED');
    }
    expect(reason(() => parseAddress('1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo', 'signet' as BitcoinNetwork))).toBe('MALFORMED');
  });
});

describe('normalisation', () => {
  it('lower-cases bech32, keeps base58, trims surrounding whitespace', () => {
    expect(normaliseAddress(' BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4\n', 'mainnet')).toBe('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
    expect(normaliseAddress('36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm', 'mainnet')).toBe('36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm');
  });

  const networks: BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest'];
  const types: AddressType[] = ['P2PKH', 'P2SH', 'P2WPKH', 'P2WSH', 'P2TR'];
  const arbAddress = fc
    .record({ type: fc.constantFrom(...types), network: fc.constantFrom(...networks), bytes: fc.uint8Array({ minLength: 32, maxLength: 32 }), upper: fc.boolean() })
    .map(({ type, network, bytes, upper }) => {
      const program = type === 'P2WSH' || type === 'P2TR' ? bytes : bytes.subarray(0, 20);
      const a = encodeAddress(type, program, network);
      return { type, network, program, text: upper && a.includes('1') && !['P2PKH', 'P2SH'].includes(type) ? a.toUpperCase() : a };
    });

  it('is idempotent, round-trips every type and network, and agrees with the AML validator (property)', () => {
    fc.assert(
      fc.property(arbAddress, ({ type, network, program, text }) => {
        const once = normaliseAddress(text, network);
        expect(normaliseAddress(once, network)).toBe(once);
        const p = parseAddress(once, network);
        expect(p.type).toBe(type);
        expect(p.program).toBe(hex.encode(program));
        // an independent implementation (compliance/aml, hand-written checksums) must agree
        if (network !== 'regtest') expect(canonicalAddress(text, network === 'mainnet' ? 'bitcoin' : 'bitcoin-testnet')).toBe(once);
      }),
      { numRuns: 300 },
    );
  });

  it('any single-character substitution of a valid address is refused, never accepted as another (property)', () => {
    const base = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu';
    const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    fc.assert(
      fc.property(fc.integer({ min: 3, max: base.length - 1 }), fc.constantFrom(...charset), (i, c) => {
        fc.pre(base[i] !== c);
        const mutated = base.slice(0, i) + c + base.slice(i + 1);
        expect(reason(() => parseAddress(mutated, 'mainnet'))).toBe('BAD_CHECKSUM');
      }),
    );
  });
});

describe('the bech32/bech32m codec we rely on (@scure/base) passes BIP 173 and BIP 350 string vectors', () => {
  const bech32Valid = [
    'A12UEL5L',
    'a12uel5l',
    'an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs',
    'abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw',
    '11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j',
    'split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w',
    '?1ezyfcl',
  ];
  const bech32Invalid = [
    '\x201nwldj5',
    '\x7f1axkwrx',
    '\x801eym55h',
    'an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx',
    'pzry9x0s0muk',
    '1pzry9x0s0muk',
    'x1b4n0q5v',
    'li1dgmt3',
    'de1lg7wt\xff',
    'A1G7SGD8',
    '10a06t8',
    '1qzzfhee',
  ];
  const bech32mValid = [
    'A1LQFN3A',
    'a1lqfn3a',
    'an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6',
    'abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx',
    '11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8',
    'split1checkupstagehandshakeupstreamerranterredcaperredlc445v',
    '?1v759aa',
  ];
  const bech32mInvalid = [
    '\x201xj0phk',
    '\x7f1g6xzxy',
    '\x801vctc34',
    'an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4',
    'qyrz8wqd2c9m',
    '1qyrz8wqd2c9m',
    'y1b0jsk6g',
    'lt1igcx5c0',
    'in1muywd',
    'mm1crxm3i',
    'au1s5cgom',
    'M1VUXWEZ',
    '16plkw9',
    '1p2gdwpf',
  ];
  it('bech32', () => {
    for (const s of bech32Valid) expect(bech32.decodeUnsafe(s, 90)).toBeTruthy();
    for (const s of [...bech32Invalid, ...bech32mValid]) expect(bech32.decodeUnsafe(s, 90)).toBeFalsy();
  });
  it('bech32m', () => {
    for (const s of bech32mValid) expect(bech32m.decodeUnsafe(s, 90)).toBeTruthy();
    for (const s of [...bech32mInvalid, ...bech32Valid]) expect(bech32m.decodeUnsafe(s, 90)).toBeFalsy();
  });
});
