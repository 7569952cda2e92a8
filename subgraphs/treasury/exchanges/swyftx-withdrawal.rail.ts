/**
 * Bitcoin withdrawals on Swyftx (the apiary docs at swyftx.docs.apiary.io; field names as
 * third-party clients use them, unverified against the live API like the order codes in
 * swyftx.client.ts):
 *   - `GET /address/withdraw/BTC/`: the saved withdrawal addresses `[{id, name, address_details: {address}}]`;
 *     Swyftx confirms each new one by e-mail/SMS, so withdrawals go to a saved address named
 *     `exchangeDestinationRef(destinationId)`;
 *   - `POST /funds/withdraw/BTC/` `{quantity, address_id, reason}` → `{id}` (quantity in BTC, fee on top);
 *   - `GET /history/withdraw/BTC/?limit=&page=` → `{record: [{id, quantity, fee, address, status, created_time (ms), txid}]}`.
 * Auth, token cache and error bodies: `SwyftxSession` (swyftx.session.ts), the same as the order client's.
 * Swyftx takes no client id on a withdrawal and its history carries no name, so `find` matches by id
 * when we stored it, else by address + amount + attempt time (reconcile.ts), never guessing between two.
 */
import { z } from 'zod';
import { stringifyJson, textToUnits, unitsToText, type JsonValue } from '../../../lib/money';
import { findOurWithdrawal, type ExchangeWithdrawalRecord, type ExchangeWithdrawalState } from '../withdrawals/reconcile';
import { RailRefusedError, type RailFind, type RailLookup, type RailSubmit, type RailWithdrawal, type WithdrawalRail } from '../withdrawals/rail';
import { invalidResponse, type FetchLike } from './exchange-http';
import { ExchangeError, safeExchangeText } from './exchange.types';
import { railWithdrawalOf } from './kraken-withdrawal.rail';
import { SwyftxSession } from './swyftx.session';

const num = z.string(); // lossless JSON: numbers arrive as their source text
const SavedAddress = z.object({ id: num, name: z.string(), address_details: z.object({ address: z.string() }) });
const SavedAddresses = z.array(SavedAddress);
const WithdrawResponse = z.object({ id: num });
const HistoryRow = z.object({
  id: num,
  quantity: num,
  fee: num.nullish(),
  address: z.string().nullish(),
  status: z.string(),
  created_time: num,
  txid: z.string().nullish(),
});
const History = z.union([z.array(HistoryRow), z.object({ record: z.array(HistoryRow) })]);

/** Swyftx withdrawal status → ours (names unverified: pending states stay pending, anything unknown is an error). */
export function swyftxWithdrawalState(status: string, txid: string | null): ExchangeWithdrawalState {
  switch (status.toUpperCase()) {
    case 'PENDING':
    case 'PROCESSING':
    case 'AWAITING_APPROVAL':
      return 'PENDING';
    case 'SENT':
    case 'BROADCAST':
      return txid ? 'BROADCAST' : 'PENDING';
    case 'COMPLETED':
    case 'COMPLETE':
      return 'CONFIRMED';
    case 'FAILED':
    case 'CANCELLED':
    case 'REJECTED':
    case 'REFUNDED':
      return 'FAILED';
    default:
      throw invalidResponse('swyftx', `unknown withdrawal status ${safeExchangeText(status, [])}`, false);
  }
}

const btc = (text: string, field: string): bigint => {
  try {
    return textToUnits(text, 8, 'exact');
  } catch (err) {
    throw invalidResponse('swyftx', `withdrawal ${field} is not a BTC amount`, false, err);
  }
};

export function swyftxWithdrawalRecord(row: z.infer<typeof HistoryRow>): ExchangeWithdrawalRecord {
  const txid = row.txid && row.txid.length > 0 ? row.txid : null;
  const ms = Number(row.created_time);
  if (!Number.isFinite(ms)) throw invalidResponse('swyftx', 'withdrawal created_time is not a number', false);
  return {
    exchangeRef: row.id,
    key: null,
    address: row.address ?? null,
    amountSats: btc(row.quantity, 'quantity'),
    feeSats: row.fee ? btc(row.fee, 'fee') : null,
    createdAt: new Date(ms),
    state: swyftxWithdrawalState(row.status, txid),
    txid,
  };
}

export type SwyftxWithdrawalRailOptions = {
  apiKey: string;
  baseUrl?: string;
  timeoutMs?: number;
  settleMs?: number;
  /** How many recent withdrawals `find` reads. */
  scanLimit?: number;
  now?: () => Date;
  fetchImpl?: FetchLike;
};

export class SwyftxWithdrawalRail implements WithdrawalRail {
  readonly name = 'swyftx';
  readonly settleMs: number;
  private readonly session: SwyftxSession;

  constructor(private readonly opts: SwyftxWithdrawalRailOptions) {
    this.session = new SwyftxSession(opts);
    this.settleMs = opts.settleMs ?? 5 * 60 * 1000;
  }

  async submit(req: RailSubmit): Promise<RailWithdrawal> {
    const saved = SavedAddresses.safeParse(await this.session.authed('GET', '/address/withdraw/BTC/', undefined));
    if (!saved.success) throw invalidResponse('swyftx', 'the saved withdrawal addresses are malformed', false);
    const entry = saved.data.find((a) => a.name === req.keyName);
    if (!entry) throw new RailRefusedError('swyftx', `no saved Swyftx withdrawal address is named ${req.keyName}`);
    if (entry.address_details.address !== req.address) throw new RailRefusedError('swyftx', `the saved Swyftx address ${req.keyName} points elsewhere`);
    let result: JsonValue;
    try {
      result = await this.session.authed('POST', '/funds/withdraw/BTC/', stringifyJson({ quantity: unitsToText(req.sats, 8), address_id: entry.id, reason: `withdrawal ${req.clientId}` }), { mutation: true });
    } catch (err) {
      if (err instanceof ExchangeError && err.kind === 'REJECTED' && !err.outcomeUnknown) throw new RailRefusedError('swyftx', err.message);
      throw err;
    }
    const parsed = WithdrawResponse.safeParse(result);
    if (!parsed.success) throw invalidResponse('swyftx', 'the withdrawal answer has no id', true);
    return { clientId: req.clientId, railRef: parsed.data.id, sats: req.sats, feeSats: null, address: req.address, state: 'SUBMITTED', txid: null, failureReason: null };
  }

  async find(lookup: RailLookup): Promise<RailFind> {
    if (lookup.attemptedAt === null && lookup.railRef === null) return { kind: 'NOT_FOUND' };
    const limit = this.opts.scanLimit ?? 50;
    const parsed = History.safeParse(await this.session.authed('GET', `/history/withdraw/BTC/?limit=${limit}&page=1`, undefined));
    if (!parsed.success) throw invalidResponse('swyftx', 'the withdrawal history is malformed', false);
    const rows = Array.isArray(parsed.data) ? parsed.data : parsed.data.record;
    const match = findOurWithdrawal(
      { withdrawalId: lookup.clientId, exchange: 'swyftx', keyName: lookup.keyName, address: lookup.address, amountSats: lookup.sats, attemptedAt: lookup.attemptedAt ?? new Date(0), exchangeRef: lookup.railRef },
      rows.map(swyftxWithdrawalRecord),
      lookup.linkedElsewhere,
    );
    if (match.kind === 'FOUND') return { kind: 'FOUND', withdrawal: railWithdrawalOf(lookup.clientId, match.record, lookup.address) };
    return match;
  }
}
