import { canonicalAddress } from './bitcoin-address';
import { amlReasonOf } from './errors';
import { loadScreeningList, parseScreeningList, splitCsvLine } from './screening-list';

const HEADER = 'address,network,source,reason,added';

const problems = (text: string): { line: number; message: string }[] => {
  try {
    parseScreeningList(text);
  } catch (err) {
    expect(amlReasonOf(err)).toBe('INVALID_SCREENING_LIST');
    return (err as { extensions: { problems: { line: number; message: string }[] } }).extensions.problems;
  }
  throw new Error('list accepted');
};

describe('bitcoin addresses', () => {
  it.each([
    ['BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', 'bitcoin', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'],
    ['bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3', 'bitcoin', 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', 'bitcoin', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0'],
    ['1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'bitcoin', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'],
    ['3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy', 'bitcoin', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'],
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7', 'bitcoin-testnet', 'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7'],
  ] as const)('valid: %s on %s', (address, network, canonical) => {
    expect(canonicalAddress(address, network)).toBe(canonical);
  });

  it.each(([
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5', 'bitcoin', 'bad bech32 checksum'],
    ['bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'bitcoin', 'mixed case'],
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh', 'bitcoin', 'witness v0 with a bech32m checksum'],
    ['bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4', 'bitcoin', 'a character outside the bech32 set'],
    ['BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R', 'bitcoin', 'witness version 17'],
    ['1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb', 'bitcoin', 'bad base58 checksum'],
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'bitcoin-testnet', 'a mainnet address on testnet'],
    ['mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn', 'bitcoin', 'a testnet address on mainnet'],
  ] as const).map(([address, network, why]) => ({ address, network, why })))('invalid: $address on $network ($why)', ({ address, network }) => {
    expect(canonicalAddress(address, network)).toBeNull();
  });
});

describe('screening list file', () => {
  it('the file in the repository parses, and its bech32 entries match in any case', async () => {
    const list = await loadScreeningList();
    expect(list.entries.length).toBeGreaterThan(0);
    expect(list.match('BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', 'bitcoin')).toMatchObject({ source: 'LIQUID_ABT_TEST', added: '2026-03-31' });
    expect(list.match('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'bitcoin-testnet')).toBeNull();
  });

  it('normalises bech32 to lower case, keeps quoted commas, skips comments and blank lines', () => {
    const list = parseScreeningList(
      `# comment\n\n${HEADER}\r\nBC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4,bitcoin,OFAC SDN,"mixer, sanctioned 2022",2022-08-08\n`,
    );
    expect(list.entries).toEqual([
      { address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', network: 'bitcoin', source: 'OFAC SDN', reason: 'mixer, sanctioned 2022', added: '2022-08-08', line: 4 },
    ]);
  });

  it('rejects the whole file, naming every malformed line', () => {
    const text = [
      HEADER,
      'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4,bitcoin,OFAC,ok,2026-01-01',
      'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5,bitcoin,OFAC,bad checksum,2026-01-01',
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,ethereum,OFAC,unknown network,2026-01-01',
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,bitcoin,,no source,2026-02-30',
      'too,few,fields',
      '"unbalanced,bitcoin,OFAC,x,2026-01-01',
      'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4,bitcoin,DFAT,same address again,2026-01-02',
    ].join('\n');
    expect(problems(text).map((p) => p.line)).toEqual([3, 4, 5, 5, 6, 7, 8]);
    expect(problems(text).find((p) => p.line === 8)?.message).toBe('duplicate of line 2');
  });

  it('a missing or wrong header is refused', () => {
    expect(problems('')[0]?.message).toMatch(/no header/);
    expect(problems('addr,net,src,why,when\n')[0]).toMatchObject({ line: 1 });
  });

  it('CSV quoting follows RFC 4180', () => {
    expect(splitCsvLine('a,"b ""quoted"", c",d')).toEqual(['a', 'b "quoted", c', 'd']);
    expect(splitCsvLine('a,"b"x,c')).toBeNull();
  });
});
