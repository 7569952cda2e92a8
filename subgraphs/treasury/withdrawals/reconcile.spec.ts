import fc from 'fast-check';
import { at } from '../../../test/helpers/present';
import { WithdrawalStatus } from './approvals';
import { decideRetry, findOurWithdrawal, krakenWithdrawalState, type ExchangeWithdrawalRecord, type WithdrawalReservation } from './reconcile';
import { withdrawalReasonOf } from './withdrawal-errors';
import { REF_LENGTH, destinationIdFromRef, exchangeDestinationRef, exchangeWithdrawalRef, withdrawalIdFromRef } from './withdrawal-id';

const W = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

describe('withdrawal references', () => {
  it('are deterministic, 30 characters of [a-z2-7], and decode back to the id', () => {
    const ref = exchangeWithdrawalRef(W);
    expect(ref).toBe(exchangeWithdrawalRef(W.toUpperCase()));
    expect(ref).toMatch(/^abtw[a-z2-7]{26}$/);
    expect(ref).toHaveLength(REF_LENGTH);
    expect(withdrawalIdFromRef(ref)).toBe(W);
    expect(destinationIdFromRef(exchangeDestinationRef(W))).toBe(W);
    expect(withdrawalIdFromRef(exchangeDestinationRef(W))).toBeNull(); // a destination ref is not a withdrawal ref
  });
  it('refuse ids that are not UUIDs and decode nothing that is not ours', () => {
    expect(withdrawalReasonOf((() => { try { exchangeWithdrawalRef('w-1'); } catch (e) { return e; } })())).toBe('INVALID_WITHDRAWAL_ID');
    for (const junk of ['', 'btc-wallet-1', 'abtw', 'abtw' + 'a'.repeat(26) + 'x', 'ABTW' + 'a'.repeat(26), 42]) expect(withdrawalIdFromRef(junk)).toBeNull();
  });
  it('one id ↔ one ref (property)', () => {
    fc.assert(fc.property(fc.uuid(), (id) => expect(withdrawalIdFromRef(exchangeWithdrawalRef(id))).toBe(id.toLowerCase())));
  });
});

describe('Kraken WithdrawStatus states', () => {
  it.each([
    ['Initial', null, null, 'PENDING'],
    ['Pending', null, null, 'PENDING'],
    ['Pending', 'onhold', 'ab'.repeat(32), 'PENDING'],
    ['Pending', null, 'ab'.repeat(32), 'BROADCAST'],
    ['Settled', null, 'ab'.repeat(32), 'BROADCAST'],
    ['Success', null, 'ab'.repeat(32), 'CONFIRMED'],
    ['Failure', 'canceled', null, 'FAILED'],
    ['Pending', 'return', null, 'FAILED'],
  ])('%s / %s → %s', (status, prop, txid, expected) => {
    expect(krakenWithdrawalState(status, prop, txid)).toBe(expected);
  });
  it('an unknown status is an exchange error, not a guess', () => {
    expect(withdrawalReasonOf((() => { try { krakenWithdrawalState('Weird', null, null); } catch (e) { return e; } })())).toBe('INVALID_EXCHANGE_RECORD');
  });
});

const t0 = new Date('2026-03-02T09:00:00Z');
const reservation = (over: Partial<WithdrawalReservation> = {}): WithdrawalReservation => ({
  withdrawalId: W,
  exchange: 'kraken',
  keyName: exchangeWithdrawalRef(W),
  address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu',
  amountSats: 5_000_000n,
  attemptedAt: t0,
  exchangeRef: null,
  ...over,
});
const row = (over: Partial<ExchangeWithdrawalRecord> = {}): ExchangeWithdrawalRecord => ({
  exchangeRef: 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg',
  key: exchangeWithdrawalRef(W),
  address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu',
  amountSats: 4_980_000n,
  feeSats: 20_000n,
  createdAt: new Date(t0.getTime() + 1000),
  state: 'PENDING',
  txid: null,
  ...over,
});

describe('finding our withdrawal in a listing', () => {
  it('by exchange reference when we have it', () => {
    expect(findOurWithdrawal(reservation({ exchangeRef: 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg' }), [row()], new Set())).toMatchObject({ kind: 'FOUND' });
    expect(findOurWithdrawal(reservation({ exchangeRef: 'other' }), [row()], new Set())).toEqual({ kind: 'NOT_FOUND' });
  });
  it('otherwise by key, address, amount (gross or net of fee) and time', () => {
    expect(findOurWithdrawal(reservation(), [row()], new Set())).toMatchObject({ kind: 'FOUND' });
    expect(findOurWithdrawal(reservation(), [row({ amountSats: 5_000_000n, feeSats: null })], new Set())).toMatchObject({ kind: 'FOUND' });
    expect(findOurWithdrawal(reservation(), [row({ key: 'btc-wallet-1' })], new Set())).toEqual({ kind: 'NOT_FOUND' });
    expect(findOurWithdrawal(reservation(), [row({ amountSats: 1n })], new Set())).toEqual({ kind: 'NOT_FOUND' });
    expect(findOurWithdrawal(reservation(), [row({ createdAt: new Date(t0.getTime() - 10 * 60 * 1000) })], new Set())).toEqual({ kind: 'NOT_FOUND' });
    expect(findOurWithdrawal(reservation(), [row()], new Set(['FTQcuak-V6Za8qrWnhzTx67yYHz8Tg']))).toEqual({ kind: 'NOT_FOUND' });
  });
  it('two candidates are AMBIGUOUS, never guessed', () => {
    expect(findOurWithdrawal(reservation(), [row(), row({ exchangeRef: 'X2' })], new Set())).toEqual({ kind: 'AMBIGUOUS', candidates: ['FTQcuak-V6Za8qrWnhzTx67yYHz8Tg', 'X2'] });
  });
});

describe('deciding a retry', () => {
  it('adopts a found row and moves forward through every stored status', () => {
    expect(decideRetry(WithdrawalStatus.SUBMITTED, reservation(), { kind: 'FOUND', record: row({ state: 'CONFIRMED', txid: 'ab'.repeat(32) }) }, t0)).toEqual({
      action: 'ADOPT',
      exchangeRef: 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg',
      path: ['BROADCAST', 'CONFIRMED'],
      txid: 'ab'.repeat(32),
      feeSats: 20_000n,
    });
  });
  it('waits, then sends only when the attempt cannot be at the exchange', () => {
    const r = reservation();
    expect(decideRetry(WithdrawalStatus.SUBMITTED, r, { kind: 'NOT_FOUND' }, new Date(t0.getTime() + 60_000))).toMatchObject({ action: 'WAIT' });
    expect(decideRetry(WithdrawalStatus.SUBMITTED, r, { kind: 'NOT_FOUND' }, new Date(t0.getTime() + 5 * 60_000))).toEqual({ action: 'SEND' });
  });
  it('never sends when the exchange answered before (a reference we know) or the listing is ambiguous', () => {
    const later = new Date(t0.getTime() + 2 * 60 * 60_000);
    expect(decideRetry(WithdrawalStatus.SUBMITTED, reservation({ exchangeRef: 'R' }), { kind: 'NOT_FOUND' }, later)).toMatchObject({ action: 'ESCALATE' });
    expect(decideRetry(WithdrawalStatus.SUBMITTED, reservation(), { kind: 'AMBIGUOUS', candidates: ['a', 'b'] }, later)).toMatchObject({ action: 'ESCALATE' });
    expect(decideRetry(WithdrawalStatus.BROADCAST, reservation(), { kind: 'NOT_FOUND' }, later)).toMatchObject({ action: 'ESCALATE' });
  });
});

/**
 * A model of the worker against an exchange whose Withdraw has no idempotency key: the worker may
 * die at any step (before the call, after the exchange accepted it but before the answer was
 * stored), the exchange may lose the answer, and retries run decideRetry. Exactly one withdrawal.
 */
describe('exactly once under crashes (model)', () => {
  type Crash = 'NONE' | 'BEFORE_SEND' | 'AFTER_SEND' | 'LOST_RESPONSE';
  it('whatever crashes happen, the exchange ends with exactly one withdrawal for it (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<Crash>('NONE', 'BEFORE_SEND', 'AFTER_SEND', 'LOST_RESPONSE'), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 10 * 60_000 }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 4 * 60_000 }), (crashes, gaps, lagMs) => {
        // the exchange's listing shows a new withdrawal only lagMs after it accepted it (under the settle time)
        const visible = (at: number) => exchange.filter((x) => x.createdAt.getTime() + lagMs <= at);
        const exchange: ExchangeWithdrawalRecord[] = [];
        let clock = t0.getTime();
        // durable state: what the service committed
        let status: WithdrawalStatus = WithdrawalStatus.SUBMITTED;
        let res: WithdrawalReservation = reservation({ attemptedAt: new Date(clock) });
        let sentOnce = false; // the first attempt is sent without asking: nothing could exist yet
        for (let i = 0; i < crashes.length + 10 && status === WithdrawalStatus.SUBMITTED && res.exchangeRef === null; i++) {
          const crash = crashes[i] ?? 'NONE';
          clock += at(gaps, i % gaps.length) + 1;
          let shouldSend = !sentOnce;
          if (shouldSend) res = { ...res, attemptedAt: new Date(clock) }; // SUBMITTED + attempt time committed before the call
          if (sentOnce) {
            const d = decideRetry(status, res, findOurWithdrawal(res, visible(clock), new Set()), new Date(clock));
            if (d.action === 'ADOPT') {
              res = { ...res, exchangeRef: d.exchangeRef };
              break;
            }
            if (d.action === 'ESCALATE') throw new Error(`escalated: ${d.why}`);
            shouldSend = d.action === 'SEND';
            if (shouldSend) res = { ...res, attemptedAt: new Date(clock) }; // a new attempt is committed before the call
          }
          if (!shouldSend) continue;
          sentOnce = true;
          if (crash === 'BEFORE_SEND') continue;
          const ref = `R${exchange.length + 1}`;
          exchange.push(row({ exchangeRef: ref, createdAt: new Date(clock) }));
          if (crash === 'AFTER_SEND' || crash === 'LOST_RESPONSE') continue;
          res = { ...res, exchangeRef: ref };
        }
        if (res.exchangeRef === null) {
          const d = decideRetry(status, res, findOurWithdrawal(res, visible(clock + 60 * 60_000), new Set()), new Date(clock + 60 * 60_000));
          if (d.action === 'ADOPT') res = { ...res, exchangeRef: d.exchangeRef };
          else if (d.action === 'SEND') {
            exchange.push(row({ exchangeRef: `R${exchange.length + 1}`, createdAt: new Date(clock + 60 * 60_000) }));
            status = WithdrawalStatus.SUBMITTED;
          }
        }
        expect(exchange.length).toBe(1);
        expect(res.exchangeRef ?? findOurWithdrawal(res, exchange, new Set()).kind).toBeTruthy();
      }),
      { numRuns: 300 },
    );
  });
});
