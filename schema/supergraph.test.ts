import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { present } from '../test/helpers/present';
import { ROOT, SUPERGRAPH_PATH, composeSupergraph, readRoverConfig } from './compose';

describe('the committed supergraph', () => {
  it('is exactly what the subgraphs compose into (run `npm run compose` and commit)', async () => {
    const { supergraph, subgraphs } = await composeSupergraph();
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(supergraph);
    for (const [name, s] of Object.entries(readRoverConfig().subgraphs)) {
      expect([name, readFileSync(join(ROOT, s.schema.file), 'utf8')]).toEqual([name, subgraphs[name]]);
    }
  });

  it('never exposes money or prices as Float or Int', async () => {
    const { supergraph } = await composeSupergraph();
    const moneyish = /^\s+(\w*(amount|price|cents|sats|cap|balance|value|cost|fee)\w*)(\(.*\))?: (\w+)/gim;
    // A share in basis points (`…Bps`, e.g. maxFeeShareBps) is a ratio, an Int by definition, not an amount.
    const offenders = [...supergraph.matchAll(moneyish)]
      .filter((m) => ['Float', 'Int'].includes(present(m[4], 'type of ' + m[0])))
      .map((m) => present(m[1], 'name in ' + m[0]))
      .filter((name) => !/Bps$/.test(name));
    expect(offenders).toEqual([]);
  });
});
