import fc from 'fast-check';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import { parseAddress } from './address';
import { withdrawalReasonOf } from './withdrawal-errors';
import { deriveReceiveAddress, derivePublicChild, parseExtendedPublicKey, withVersion } from './xpub';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

describe('BIP 32 test vectors: public derivation', () => {
  // [parent xpub, non-hardened child index, expected child xpub] from BIP 32 test vectors 1 and 2.
  const steps: [string, number, string][] = [
    [
      'xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw',
      1,
      'xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ',
    ],
    [
      'xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5',
      2,
      'xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV',
    ],
    [
      'xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV',
      1000000000,
      'xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy',
    ],
    [
      'xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB',
      0,
      'xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH',
    ],
    [
      'xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a',
      1,
      'xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon',
    ],
    [
      'xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL',
      2,
      'xpub6FnCn6nSzZAw5Tw7cgR9bi15UV96gLZhjDstkXXxvCLsUXBGXPdSnLFbdpq8p9HmGsApME5hQTZ3emM2rnY5agb9rXpVGyy3bdW6EEgAtqt',
    ],
  ];
  it.each(steps)('%s / %i', (parent, index, child) => {
    const key = parseExtendedPublicKey(parent);
    expect(derivePublicChild(key, [index]).publicExtendedKey).toBe(child);
  });

  it('vectors 3 and 4 (leading zeros) parse and re-serialise byte for byte', () => {
    for (const x of [
      'xpub661MyMwAqRbcEZVB4dScxMAdx6d4nFc9nvyvH3v4gJL378CSRZiYmhRoP7mBy6gSPSCYk6SzXPTf3ND1cZAceL7SfJ1Z3GC8vBgp2epUt13',
      'xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y',
      'xpub661MyMwAqRbcGczjuMoRm6dXaLDEhW1u34gKenbeYqAix21mdUKJyuyu5F1rzYGVxyL6tmgBUAEPrEz92mBXjByMRiJdba9wpnN37RLLAXa',
      'xpub6BJA1jSqiukeaesWfxe6sNK9CCGaujFFSJLomWHprUL9DePQ4JDkM5d88n49sMGJxrhpjazuXYWdMf17C9T5XnxkopaeS7jGk1GyyVziaMt',
    ]) {
      expect(parseExtendedPublicKey(x).hd.publicExtendedKey).toBe(x);
    }
  });

  it('hardened children cannot be derived from a public key (typed, not a crash)', () => {
    const key = parseExtendedPublicKey('xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB');
    expect(reason(() => derivePublicChild(key, [0x80000000]))).toBe('INVALID_DERIVATION_INDEX');
    expect(reason(() => deriveReceiveAddress(key, -1, 'mainnet'))).toBe('INVALID_DERIVATION_INDEX');
    expect(reason(() => deriveReceiveAddress(key, 1.5, 'mainnet'))).toBe('INVALID_DERIVATION_INDEX');
  });
});

describe('BIP 32 test vector 5: invalid extended keys are recognised', () => {
  const vectors: [string, string, string][] = [
    ['xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6LBpB85b3D2yc8sfvZU521AAwdZafEz7mnzBBsz4wKY5fTtTQBm', 'pubkey version / prvkey mismatch', 'PRIVATE_KEY_REFUSED'],
    ['xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzFGTQQD3dC4H2D5GBj7vWvSQaaBv5cxi9gafk7NF3pnBju6dwKvH', 'prvkey version / pubkey mismatch', 'PRIVATE_KEY_REFUSED'],
    ['xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Txnt3siSujt9RCVYsx4qHZGc62TG4McvMGcAUjeuwZdduYEvFn', 'invalid pubkey prefix 04', 'INVALID_KEY'],
    ['xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzFGpWnsj83BHtEy5Zt8CcDr1UiRXuWCmTQLxEK9vbz5gPstX92JQ', 'invalid prvkey prefix 04', 'PRIVATE_KEY_REFUSED'],
    ['xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6N8ZMMXctdiCjxTNq964yKkwrkBJJwpzZS4HS2fxvyYUA4q2Xe4', 'invalid pubkey prefix 01', 'INVALID_KEY'],
    ['xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzFAzHGBP2UuGCqWLTAPLcMtD9y5gkZ6Eq3Rjuahrv17fEQ3Qen6J', 'invalid prvkey prefix 01', 'PRIVATE_KEY_REFUSED'],
    ['xprv9s2SPatNQ9Vc6GTbVMFPFo7jsaZySyzk7L8n2uqKXJen3KUmvQNTuLh3fhZMBoG3G4ZW1N2kZuHEPY53qmbZzCHshoQnNf4GvELZfqTUrcv', 'zero depth with non-zero parent fingerprint', 'PRIVATE_KEY_REFUSED'],
    ['xpub661no6RGEX3uJkY4bNnPcw4URcQTrSibUZ4NqJEw5eBkv7ovTwgiT91XX27VbEXGENhYRCf7hyEbWrR3FewATdCEebj6znwMfQkhRYHRLpJ', 'zero depth with non-zero parent fingerprint', 'INVALID_KEY'],
    ['xprv9s21ZrQH4r4TsiLvyLXqM9P7k1K3EYhA1kkD6xuquB5i39AU8KF42acDyL3qsDbU9NmZn6MsGSUYZEsuoePmjzsB3eFKSUEh3Gu1N3cqVUN', 'zero depth with non-zero index', 'PRIVATE_KEY_REFUSED'],
    ['xpub661MyMwAuDcm6CRQ5N4qiHKrJ39Xe1R1NyfouMKTTWcguwVcfrZJaNvhpebzGerh7gucBvzEQWRugZDuDXjNDRmXzSZe4c7mnTK97pTvGS8', 'zero depth with non-zero index', 'INVALID_KEY'],
    ['DMwo58pR1QLEFihHiXPVykYB6fJmsTeHvyTp7hRThAtCX8CvYzgPcn8XnmdfHGMQzT7ayAmfo4z3gY5KfbrZWZ6St24UVf2Qgo6oujFktLHdHY4', 'unknown extended key version (its key data is private)', 'PRIVATE_KEY_REFUSED'],
    ['DMwo58pR1QLEFihHiXPVykYB6fJmsTeHvyTp7hRThAtCX8CvYzgPcn8XnmdfHPmHJiEDXkTiJTVV9rHEBUem2mwVbbNfvT2MTcAqj3nesx8uBf9', 'unknown extended key version', 'UNSUPPORTED_TYPE'],
    ['xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzF93Y5wvzdUayhgkkFoicQZcP3y52uPPxFnfoLZB21Teqt1VvEHx', 'private key 0 not in 1..n-1', 'PRIVATE_KEY_REFUSED'],
    ['xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzFAzHGBP2UuGCqWLTAPLcMtD5SDKr24z3aiUvKr9bJpdrcLg1y3G', 'private key n not in 1..n-1', 'PRIVATE_KEY_REFUSED'],
    ['xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Q5JXayek4PRsn35jii4veMimro1xefsM58PgBMrvdYre8QyULY', 'invalid pubkey 02…07', 'INVALID_KEY'],
    ['xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHL', 'invalid checksum', 'BAD_CHECKSUM'],
  ];
  it.each(vectors)('%s (%s) → %s', (key, _why, expected) => {
    let err: unknown;
    try {
      parseExtendedPublicKey(key);
    } catch (e) {
      err = e;
    }
    expect(withdrawalReasonOf(err)).toBe(expected);
    // nothing about the key leaks into what a client or a log would see
    expect(JSON.stringify({ m: (err as Error).message, x: (err as { extensions: unknown }).extensions })).not.toContain(key.slice(4, 20));
  });
});

describe('SLIP-132 / BIP 44 / BIP 49 / BIP 84 receive addresses', () => {
  // SLIP-0132 "Bitcoin Test Vectors" (mnemonic "abandon … about"), account keys and m/…/0/0.
  it.each([
    ['xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj', '1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA', 'P2PKH'],
    ['ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP', '37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf', 'P2SH'],
    ['zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs', 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'P2WPKH'],
  ])('%s → 0/0 = %s', (xpub, address, type) => {
    const key = parseExtendedPublicKey(xpub, { network: 'mainnet' });
    expect(key.depth).toBe(3);
    expect(key.childNumber).toBe(0x80000000);
    expect(deriveReceiveAddress(key, 0, 'mainnet')).toMatchObject({ address, type, path: '0/0', index: 0 });
  });

  it('BIP 84: first and second receive addresses, first change address, public keys', () => {
    const key = parseExtendedPublicKey('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs');
    expect(deriveReceiveAddress(key, 0, 'mainnet')).toEqual({
      address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu',
      type: 'P2WPKH',
      path: '0/0',
      index: 0,
      publicKeyHex: '0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c',
    });
    expect(deriveReceiveAddress(key, 1, 'mainnet')).toMatchObject({
      address: 'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g',
      publicKeyHex: '03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77',
    });
    expect(Buffer.from(derivePublicChild(key, [1, 0]).publicKey ?? []).toString('hex')).toBe(
      '03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6',
    );
  });

  it('BIP 84: the published rootpub and account zpub come from the mnemonic (BIP 39 seed, BIP 32 path m/84’/0’/0’)', () => {
    const mnemonic = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
    const seed = pbkdf2(sha512, new TextEncoder().encode(mnemonic.normalize('NFKD')), new TextEncoder().encode('mnemonic'), { c: 2048, dkLen: 64 });
    const zpubVersions = { public: 0x04b24746, private: 0x04b2430c };
    const root = HDKey.fromMasterSeed(seed, zpubVersions);
    expect(root.publicExtendedKey).toBe('zpub6jftahH18ngZxLmXaKw3GSZzZsszmt9WqedkyZdezFtWRFBZqsQH5hyUmb4pCEeZGmVfQuP5bedXTB8is6fTv19U1GQRyQUKQGUTzyHACMF');
    const account = root.derive("m/84'/0'/0'");
    expect(account.publicExtendedKey).toBe('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs');
  });

  it('BIP 49 (testnet upub): m/49’/1’/0’/0/0 = 2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2', () => {
    const key = parseExtendedPublicKey(
      'upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY',
      { network: 'testnet' },
    );
    expect(key.scriptType).toBe('P2SH_P2WPKH');
    const d = deriveReceiveAddress(key, 0, 'testnet');
    expect(d).toMatchObject({ address: '2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2', type: 'P2SH', publicKeyHex: '03a1af804ac108a8a51782198c2d034b28bf90c8803f5a53f76276fa69a4eae77f' });
    expect(parseAddress(d.address, 'testnet').program).toBe('336caa13e08b96080a32b5d818d59b4ab3b36742');
  });

  it('an xpub exported for a BIP 84 wallet derives BIP 84 addresses when told so; a zpub refuses another type', () => {
    const zpub = parseExtendedPublicKey('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs');
    const asXpub = withVersion(zpub, 'P2PKH');
    expect(asXpub.startsWith('xpub')).toBe(true);
    const generic = parseExtendedPublicKey(asXpub, { scriptType: 'P2WPKH' });
    expect(deriveReceiveAddress(generic, 0, 'mainnet').address).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(deriveReceiveAddress(parseExtendedPublicKey(asXpub), 0, 'mainnet').type).toBe('P2PKH');
    expect(reason(() => parseExtendedPublicKey(zpub.text, { scriptType: 'P2PKH' }))).toBe('SCRIPT_TYPE_MISMATCH');
  });

  it('network mismatches, multisig versions and junk are typed errors', () => {
    const zpub = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';
    expect(reason(() => parseExtendedPublicKey(zpub, { network: 'testnet' }))).toBe('WRONG_NETWORK');
    expect(reason(() => deriveReceiveAddress(parseExtendedPublicKey(zpub), 0, 'regtest'))).toBe('WRONG_NETWORK');
    const key = parseExtendedPublicKey(zpub);
    const Zpub = withVersionBytes(zpub, 0x02aa7ed3);
    expect(reason(() => parseExtendedPublicKey(Zpub))).toBe('UNSUPPORTED_TYPE');
    expect(key.publicKeyHex).toHaveLength(66);
    for (const junk of [undefined, 42, '', 'xpub', 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', zpub.slice(0, -1) + 'x', zpub + 'a']) {
      expect(['MALFORMED', 'BAD_CHECKSUM']).toContain(reason(() => parseExtendedPublicKey(junk)));
    }
  });

  it('the parsed key serialises without its HD internals (nothing private to leak)', () => {
    const key = parseExtendedPublicKey('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs');
    const serialised: unknown = JSON.parse(JSON.stringify(key));
    expect(typeof serialised === 'object' && serialised !== null && Object.keys(serialised)).not.toContain('hd');
  });

  it('derivation is deterministic and distinct indexes give distinct addresses (property)', () => {
    const key = parseExtendedPublicKey('zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 0, max: 0x7fffffff }), (a, b) => {
        const da = deriveReceiveAddress(key, a, 'mainnet').address;
        expect(deriveReceiveAddress(key, a, 'mainnet').address).toBe(da);
        if (a !== b) expect(deriveReceiveAddress(key, b, 'mainnet').address).not.toBe(da);
        expect(parseAddress(da, 'mainnet').type).toBe('P2WPKH');
      }),
      { numRuns: 40 },
    );
  });
});

function withVersionBytes(text: string, version: number): string {
  const { base58checkCodec } = jest.requireActual<typeof import('./address')>('./address');
  const p = Uint8Array.from(base58checkCodec.decode(text));
  p.set([version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff], 0);
  return base58checkCodec.encode(p);
}
