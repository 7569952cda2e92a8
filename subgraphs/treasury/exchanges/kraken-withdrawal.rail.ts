/**
 * Bitcoin withdrawals on Kraken (https://docs.kraken.com/api/docs/rest-api/withdraw-funds):
 * `POST /0/private/Withdraw` with `asset=XBT`, `key` = the withdrawal-address name set up at Kraken,
 * `amount` in BTC (Kraken takes its fee out of it) and `address` to make Kraken check the key still
 * points there; answers `{refid}`. `POST /0/private/WithdrawStatus` (`asset=XBT`) lists recent
 * withdrawals newest first with `refid`, `txid`, `info` (address), `amount`, `fee`, `time`, `status`
 * (Initial/Pending/Settled/Success/Failure), `status-prop` and `key`.
 *
 * Signing, nonces and the per-key request queue are the Kraken client's (`privateRequest`): one
 * API-Sign implementation for trading and funding. Kraken takes no client id on a withdrawal, so
 * `find` reads WithdrawStatus and matches by refid when we stored it, else by our key (named after
 * the withdrawal for derived addresses, so exact), address, amount and attempt time (reconcile.ts).
 */
import { z } from 'zod';
import { textToUnits, unitsToText } from '../../../lib/money';
import { findOurWithdrawal, krakenWithdrawalState, type ExchangeWithdrawalRecord } from '../withdrawals/reconcile';
import { RailRefusedError, type RailFind, type RailLookup, type RailSubmit, type RailWithdrawal, type WithdrawalRail } from '../withdrawals/rail';
import { invalidResponse } from './exchange-http';
import { ExchangeError } from './exchange.types';
import type { KrakenClient } from './kraken.client';

const WithdrawResult = z.object({ refid: z.string().min(1) });
const StatusRow = z.object({
  refid: z.string(),
  txid: z.string().nullish(),
  info: z.string().nullish(),
  amount: z.string(),
  fee: z.string().nullish(),
  time: z.union([z.number(), z.string()]),
  status: z.string(),
  'status-prop': z.string().nullish(),
  key: z.string().nullish(),
});
const StatusResult = z.array(StatusRow);

const btcToSats = (text: string, field: string): bigint => {
  try {
    return textToUnits(text, 8, 'exact');
  } catch (err) {
    throw invalidResponse('kraken', `WithdrawStatus ${field} is not a BTC amount`, false, err);
  }
};

/** One WithdrawStatus row in the reconciler's terms. */
export function krakenWithdrawalRecord(row: z.infer<typeof StatusRow>): ExchangeWithdrawalRecord {
  const seconds = typeof row.time === 'number' ? row.time : Number(row.time);
  if (!Number.isFinite(seconds)) throw invalidResponse('kraken', 'WithdrawStatus time is not a number', false);
  const txid = row.txid && row.txid.length > 0 ? row.txid : null;
  return {
    exchangeRef: row.refid,
    key: row.key ?? null,
    address: row.info ?? null,
    amountSats: btcToSats(row.amount, 'amount'),
    feeSats: row.fee ? btcToSats(row.fee, 'fee') : null,
    createdAt: new Date(Math.round(seconds * 1000)),
    state: krakenWithdrawalState(row.status, row['status-prop'] ?? null, txid),
    txid,
  };
}

const STATE: Readonly<Record<ExchangeWithdrawalRecord['state'], RailWithdrawal['state']>> = { PENDING: 'SUBMITTED', BROADCAST: 'BROADCAST', CONFIRMED: 'CONFIRMED', FAILED: 'FAILED' };

export const railWithdrawalOf = (clientId: string, r: ExchangeWithdrawalRecord, fallbackAddress: string): RailWithdrawal => ({
  clientId,
  railRef: r.exchangeRef,
  sats: r.amountSats,
  feeSats: r.feeSats,
  address: r.address ?? fallbackAddress,
  state: STATE[r.state],
  txid: r.txid,
  failureReason: r.state === 'FAILED' ? 'the exchange reported the withdrawal failed or was cancelled' : null,
});

export type KrakenWithdrawalRailOptions = { settleMs?: number };

export class KrakenWithdrawalRail implements WithdrawalRail {
  readonly name = 'kraken';
  readonly settleMs: number;

  constructor(
    private readonly client: KrakenClient,
    opts: KrakenWithdrawalRailOptions = {},
  ) {
    this.settleMs = opts.settleMs ?? 5 * 60 * 1000;
  }

  async submit(req: RailSubmit): Promise<RailWithdrawal> {
    let result;
    try {
      result = await this.client.privateRequest('Withdraw', { asset: 'XBT', key: req.keyName, amount: unitsToText(req.sats, 8), address: req.address }, true);
    } catch (err) {
      // Kraken answered with a refusal (unknown key, funds, limits): nothing was sent.
      if (err instanceof ExchangeError && err.kind === 'REJECTED' && !err.outcomeUnknown) throw new RailRefusedError('kraken', err.message);
      throw err;
    }
    const parsed = WithdrawResult.safeParse(result);
    if (!parsed.success) throw invalidResponse('kraken', 'Withdraw result has no refid', true);
    return { clientId: req.clientId, railRef: parsed.data.refid, sats: req.sats, feeSats: null, address: req.address, state: 'SUBMITTED', txid: null, failureReason: null };
  }

  async find(lookup: RailLookup): Promise<RailFind> {
    // Never attempted: nothing of ours can be listed.
    if (lookup.attemptedAt === null && lookup.railRef === null) return { kind: 'NOT_FOUND' };
    const params: Record<string, string> = { asset: 'XBT' };
    // Only rows that can be ours: from our attempt, less the clock skew the matcher allows.
    if (lookup.attemptedAt && lookup.railRef === null) params.start = String(Math.floor((lookup.attemptedAt.getTime() - 2 * 60 * 1000) / 1000));
    const parsed = StatusResult.safeParse(await this.client.privateRequest('WithdrawStatus', params, false));
    if (!parsed.success) throw invalidResponse('kraken', 'WithdrawStatus result is malformed', false);
    const records = parsed.data.map(krakenWithdrawalRecord);
    const match = findOurWithdrawal(
      { withdrawalId: lookup.clientId, exchange: 'kraken', keyName: lookup.keyName, address: lookup.address, amountSats: lookup.sats, attemptedAt: lookup.attemptedAt ?? new Date(0), exchangeRef: lookup.railRef },
      records,
      lookup.linkedElsewhere,
    );
    if (match.kind === 'FOUND') return { kind: 'FOUND', withdrawal: railWithdrawalOf(lookup.clientId, match.record, lookup.address) };
    return match;
  }
}
