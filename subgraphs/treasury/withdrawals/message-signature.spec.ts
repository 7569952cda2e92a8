import fc from 'fast-check';
import { at } from '../../../test/helpers/present';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base64, hex } from '@scure/base';
import { encodeAddress, hash160, parseAddress } from './address';
import { bip322MessageHash, bip322ToSignHash, bip322ToSpendHash, bitcoinMessageHash, verifyMessageSignature } from './message-signature';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};
const display = (internal: Uint8Array): string => hex.encode(Uint8Array.from(internal).reverse());

const P2WPKH_ADDR = 'bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l';
const P2WPKH_SCRIPT = hex.decode(parseAddress(P2WPKH_ADDR, 'mainnet').scriptPubKey);

describe('BIP 322 (bip-0322/basic-test-vectors.json)', () => {
  it.each([
    ['', 'c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1', 'c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7', '1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6'],
    ['Hello World', 'f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a', 'b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b', '88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf'],
    [
      'UTF-8 support: öäüéàè 测试文本 \uD83D\uDE04',
      '43936b237ea38c7794eb5d755e0d220b6db92ebfc5c8f482759d22b1286376d7',
      'c8f4f525fe8afb1bc09b44175bd2096f079c98425e8a1be676b712add1fb62f0',
      '8f488e06b89eafd019ec528109eafaf7f1d1811fd617aa1eeb9658f1c1be6586',
    ],
  ])('message %j: message_hash, to_spend and to_sign hashes', (message, messageHash, toSpend, toSign) => {
    expect(hex.encode(bip322MessageHash(message))).toBe(messageHash);
    expect(display(bip322ToSpendHash(message, P2WPKH_SCRIPT))).toBe(toSpend);
    expect(display(bip322ToSignHash(message, P2WPKH_SCRIPT))).toBe(toSign);
  });

  it.each([
    ['', 'smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI='],
    ['', 'smpAkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMdydVgzAEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy'],
    ['Hello World', 'smpAkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI='],
    ['Hello World', 'smpAkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR8eGhowEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy'],
    // the same without the prefix: BIP 322 lets verifiers assume "simple" (signatures made before 1.0.0)
    ['Hello World', 'AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI='],
  ])('simple P2WPKH signature of %j verifies', (message, signature) => {
    expect(verifyMessageSignature({ address: P2WPKH_ADDR, message, signature, network: 'mainnet' })).toEqual({
      valid: true,
      format: 'BIP322_SIMPLE',
      addressType: 'P2WPKH',
      detail: 'ok',
    });
  });

  it('simple P2TR key-path signature ("No prefix fallback") verifies', () => {
    expect(
      verifyMessageSignature({
        address: 'bc1pss0zhytly75awhm6x2hhvd5lnzv3vssgrf9axfheq8ldyzn88ges79fler',
        message: 'No prefix fallback',
        signature: 'AUCJYOwOjxYAvatTAGYaVlNXBVyFuc4MwNQkOuK2tl8xhfKDONd0NjfYyNSYcRqeCp8hsAnCEPHAVEkO9h6vbQ/R',
        network: 'mainnet',
      }),
    ).toMatchObject({ valid: true, addressType: 'P2TR' });
    expect(
      verifyMessageSignature({
        address: 'bc1pss0zhytly75awhm6x2hhvd5lnzv3vssgrf9axfheq8ldyzn88ges79fler',
        message: 'No prefix fallbacK',
        signature: 'AUCJYOwOjxYAvatTAGYaVlNXBVyFuc4MwNQkOuK2tl8xhfKDONd0NjfYyNSYcRqeCp8hsAnCEPHAVEkO9h6vbQ/R',
        network: 'mainnet',
      }).valid,
    ).toBe(false);
  });

  it('the error vectors: wrong message / wrong address / empty witness do not verify; undecodable input is INVALID_SIGNATURE', () => {
    const sig = 'smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=';
    expect(verifyMessageSignature({ address: P2WPKH_ADDR, message: 'Wrong message that was not signed', signature: sig, network: 'mainnet' }).valid).toBe(false);
    expect(verifyMessageSignature({ address: P2WPKH_ADDR, message: '', signature: 'smpAA==', network: 'mainnet' })).toMatchObject({ valid: false });
    // the same signature offered for the P2WSH address: we cannot run scripts, so it is refused as unsupported
    expect(reason(() => verifyMessageSignature({ address: 'bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9', message: '', signature: sig, network: 'mainnet' }))).toBe(
      'UNSUPPORTED_SIGNATURE',
    );
    expect(reason(() => verifyMessageSignature({ address: P2WPKH_ADDR, message: '', signature: 'not-valid-base64!!!', network: 'mainnet' }))).toBe('INVALID_SIGNATURE');
    expect(reason(() => verifyMessageSignature({ address: P2WPKH_ADDR, message: '', signature: '', network: 'mainnet' }))).toBe('INVALID_SIGNATURE');
    expect(reason(() => verifyMessageSignature({ address: P2WPKH_ADDR, message: '', signature: 'fooAA==', network: 'mainnet' }))).toBe('INVALID_SIGNATURE');
    expect(
      reason(() =>
        verifyMessageSignature({
          address: 'bc1pyrgrm6cu6n54jrvkdjd9rvyd3xfyu84s2623awu2srn6mxhscwpsm5644w',
          message: 'incorrect prefix',
          signature: 'fulAUDZwFXUp+adN+/UZj5dVrGAbB3zKs1Vcalz5fCF9srxS63eSWNGvH1NYbrBkPt1BJDUyWUz9zgUxfc63/QheT6M',
          network: 'mainnet',
        }),
      ),
    ).toBe('UNSUPPORTED_SIGNATURE');
  });
});

describe('BIP 137 "Bitcoin Signed Message"', () => {
  it('message hash (bitcoinjs-message fixtures)', () => {
    expect(hex.encode(bitcoinMessageHash(''))).toBe('80e795d4a4caadd7047af389d9f7f220562feb6196032e2131e10563352c4bcc');
    expect(hex.encode(bitcoinMessageHash('Vires is Numeris'))).toBe('f8a5affbef4a3241b19067aa694562f64f513310817297089a8929a930f4f933');
  });

  it('Bitcoin Core rpc_signmessage.py: signmessagewithprivkey output verifies (testnet P2PKH)', () => {
    expect(
      verifyMessageSignature({
        address: 'mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB',
        message: 'This is just a test message',
        signature: 'INbVnW4e6PeRmsv2Qgu8NuopvrVjkcxob+sX8OcZG0SALhWybUjzMLPdAsXI46YZGb0KQTRii+wWIQzRpG/U+S0=',
        network: 'testnet',
      }),
    ).toEqual({ valid: true, format: 'BIP137', addressType: 'P2PKH', detail: 'ok' });
  });

  it.each([
    ['16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM', 'G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=', 'P2PKH'],
    ['1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs', 'H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=', 'P2PKH'],
    ['3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN', 'JF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=', 'P2SH'],
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'KF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=', 'P2WPKH'],
  ])('bitcoinjs-message "vires is numeris" for %s verifies', (address, signature, type) => {
    expect(verifyMessageSignature({ address, message: 'vires is numeris', signature, network: 'mainnet' })).toMatchObject({ valid: true, addressType: type });
  });

  it.each([
    ['wrong message', '16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM', 'foobar', 'G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0='],
    ['wrong address', '1111111111111111111114oLvT2', 'vires is numeris', 'H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0='],
    ['uncompressed address, compressed signature', '16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM', 'vires is numeris', 'H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0='],
    ['compressed address, uncompressed signature', '1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs', 'vires is numeris', 'G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0='],
  ])('%s does not verify', (_why, address, message, signature) => {
    expect(verifyMessageSignature({ address, message, signature, network: 'mainnet' }).valid).toBe(false);
  });

  it('a BIP 137 signature cannot prove a taproot address', () => {
    expect(
      reason(() =>
        verifyMessageSignature({
          address: 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0',
          message: 'x',
          signature: 'KF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=',
          network: 'mainnet',
        }),
      ),
    ).toBe('UNSUPPORTED_SIGNATURE');
  });

  it('sign with any key, verify for its P2PKH / P2SH-P2WPKH / P2WPKH address; a flipped bit fails (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string({ maxLength: 200 }), fc.constantFrom('P2PKH', 'P2SH', 'P2WPKH', 'ELECTRUM'), (seed, message, kind) => {
        fc.pre(secp256k1.utils.isValidSecretKey(seed));
        const priv = seed;
        const pub = secp256k1.getPublicKey(priv, true);
        const rec = secp256k1.sign(bitcoinMessageHash(message), priv, { prehash: false, format: 'recovered' });
        const offset = kind === 'P2SH' ? 35 : kind === 'P2WPKH' ? 39 : 31; // ELECTRUM: 31–34 for a segwit address
        const sig = Uint8Array.from(rec);
        sig[0] = offset + at(rec, 0, 'recovered signature');
        const kh = hash160(pub);
        const address =
          kind === 'P2PKH'
            ? encodeAddress('P2PKH', kh, 'mainnet')
            : kind === 'P2SH'
              ? encodeAddress('P2SH', hash160(Uint8Array.from([0x00, 0x14, ...kh])), 'mainnet')
              : encodeAddress('P2WPKH', kh, 'mainnet');
        expect(verifyMessageSignature({ address, message, signature: base64.encode(sig), network: 'mainnet' }).valid).toBe(true);
        const tampered = Uint8Array.from(sig);
        tampered[10] = at(tampered, 10) ^ 1;
        expect(verifyMessageSignature({ address, message, signature: base64.encode(tampered), network: 'mainnet' }).valid).toBe(false);
      }),
      { numRuns: 50 },
    );
  });
});
