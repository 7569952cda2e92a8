import { randomUUID } from 'node:crypto';
import { at } from '../../../test/helpers/present';
import { startMyobFake } from '../../../test/fakes/myob.server';
import { startXeroFake } from '../../../test/fakes/xero.server';
import { centsFromWireNumber, journalForFill, type AccountMapping } from './journal';
import type { Clock } from './limiter';
import { MyobBooksClient } from './myob.client';
import { InMemoryTokenStore, type Grant } from './tokens';
import { XeroBooksClient } from './xero.client';

/**
 * The issue's "done when", at the adapters' level: one FILLED purchase becomes one balanced
 * ManualJournal in Xero and one GeneralJournal in MYOB, although the first posts fail after the
 * ledger stored them, hit rate limits, and the whole job runs a second time (redelivered).
 */

const ORG = '70784a63-d24b-46a9-a4db-0e70a274b056';
const CF = '5d4b1ce0-bb9f-4f4c-9578-2b168b7295db';
const NT = 'c0000001-0000-4000-8000-0000000000aa';
const XERO_MAP: AccountMapping = { digitalAsset: '1450', exchangeClearing: '1460', feesExpense: '6100', realisedGain: '4800', realisedLoss: '6900' };
const U = (n: number): string => `a0000001-0000-4000-8000-00000000000${n}`;
const MYOB_MAP: AccountMapping = { digitalAsset: U(1), exchangeClearing: U(2), feesExpense: U(3), realisedGain: U(4), realisedLoss: U(5) };

function clock(): Clock {
  let t = Date.UTC(2025, 6, 1);
  return {
    now: () => t,
    sleep: (ms) => {
      t += ms;
      return Promise.resolve();
    },
  };
}

async function consent(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  return res.headers.get('location')!;
}

it('a fill is posted exactly once to each ledger through lost answers, rate limits and a redelivered job', async () => {
  const c = clock();
  const xeroFake = await startXeroFake({ clientId: 'x', clientSecret: 'xs', redirectUri: 'https://abt.local/x', organisations: [{ tenantId: ORG, name: 'Demo', accountCodes: ['1450', '1460', '6100', '4800', '6900'] }], now: () => c.now() });
  const myobFake = await startMyobFake({ apiKey: 'm', apiSecret: 'ms', redirectUri: 'https://abt.local/m', files: [{ businessId: CF, businessName: 'Demo', accountUids: [1, 2, 3, 4, 5].map(U), taxCodeUids: [NT] }], now: () => c.now() });
  try {
    const xero = new XeroBooksClient({ clientId: 'x', clientSecret: 'xs', redirectUri: 'https://abt.local/x', loginBaseUrl: xeroFake.url, identityBaseUrl: xeroFake.url, apiBaseUrl: xeroFake.url, clock: c, timeoutMs: 300 });
    const myob = new MyobBooksClient({ apiKey: 'm', apiSecret: 'ms', redirectUri: 'https://abt.local/m', secureBaseUrl: myobFake.url, apiBaseUrl: myobFake.url, clock: c, timeoutMs: 300 });

    const xp = xero.authorizationRequest();
    const xeroGrant: Grant = { id: 'xg', tokens: new InMemoryTokenStore((await xero.completeAuthorization(await consent(xp.url), xp)).tokens) };
    const mp = myob.authorizationRequest();
    const myobGrant: Grant = { id: 'mg', tokens: new InMemoryTokenStore((await myob.completeAuthorization(await consent(mp.url), mp)).tokens) };

    // A purchase as treasury stores it once FILLED (subgraphs/treasury/purchases/purchase.entity.ts).
    const purchase = { id: randomUUID(), status: 'FILLED', exchange: 'paper', satoshis: 3_691_000n, spentAudCents: 3_654n, feeAudCents: 37n, filledAt: new Date('2025-07-01T03:00:00Z') };
    const event = { purchaseId: purchase.id, at: purchase.filledAt, satoshis: purchase.satoshis, spentAudCents: purchase.spentAudCents, feeAudCents: purchase.feeAudCents, exchange: purchase.exchange };
    const job = async (): Promise<void> => {
      await xero.postJournal(xeroGrant, ORG, journalForFill(event, XERO_MAP));
      await myob.postJournal(myobGrant, { businessId: CF, defaultTaxCodeUid: NT }, journalForFill(event, MYOB_MAP));
    };

    xeroFake.inject({ status: 500, afterStore: true }, { status: 429, retryAfterSeconds: 3, problem: 'minute' });
    myobFake.inject({ hang: true, afterStore: true }, { rateLimit: 'second' });
    xeroFake.expireAccessTokens();
    await job();
    await job();

    const xj = xeroFake.journals(ORG);
    expect(xj).toHaveLength(1);
    expect(at(xj, 0).JournalLines.reduce((s, l) => s + centsFromWireNumber(l.LineAmount), 0n)).toBe(0n);
    expect(at(xj, 0).JournalLines.map((l) => l.LineAmount)).toEqual([36.91, -36.91]);
    const mj = myobFake.journals(CF);
    expect(mj).toHaveLength(1);
    expect(at(mj, 0).Lines.map((l) => [l.Amount, l.IsCredit])).toEqual([
      [36.91, false],
      [36.91, true],
    ]);
  } finally {
    await xeroFake.close();
    await myobFake.close();
  }
});
