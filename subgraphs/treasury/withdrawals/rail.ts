import { createHash } from 'node:crypto';

/**
 * Where an approved withdrawal is sent: an exchange's withdrawal API behind one small interface.
 * Neither Kraken nor Swyftx takes a client id on a withdrawal, so a rail is asked with everything we
 * stored before sending (`RailLookup`): the exchange's reference when we have it, else our
 * exchange address-book entry (`keyName`), address, amount and when we attempted. The executor
 * always looks before it sends, and sends only when the rail answers NOT_FOUND.
 */
export type RailWithdrawalState = 'SUBMITTED' | 'BROADCAST' | 'CONFIRMED' | 'FAILED';

export type RailWithdrawal = {
  clientId: string;
  /** The rail's own reference for it (Kraken refid, Swyftx withdrawal id). */
  railRef: string;
  sats: bigint;
  /** The network fee the exchange charged (known once it reports it). */
  feeSats: bigint | null;
  address: string;
  state: RailWithdrawalState;
  txid: string | null;
  failureReason: string | null;
};

/** What we stored before the send: enough to find the withdrawal at the exchange again. */
export type RailLookup = {
  clientId: string;
  /** The exchange's reference, once it answered; null after a crash between send and store. */
  railRef: string | null;
  /** The exchange address-book entry the withdrawal goes to (withdrawal-id.ts). */
  keyName: string;
  address: string;
  sats: bigint;
  /** When the last send was attempted (null: never). */
  attemptedAt: Date | null;
  /** References already linked to other withdrawals of this tenant (never adopted twice). */
  linkedElsewhere: ReadonlySet<string>;
};

export type RailFind =
  | { kind: 'FOUND'; withdrawal: RailWithdrawal }
  | { kind: 'NOT_FOUND' }
  /** More than one exchange withdrawal could be ours: a person looks; never resend. */
  | { kind: 'AMBIGUOUS'; candidates: string[] };

export type RailSubmit = { clientId: string; keyName: string; sats: bigint; address: string };

export interface WithdrawalRail {
  readonly name: string;
  /**
   * How long after an attempt a withdrawal missing from the rail's listing may still appear. Paper
   * knows at once (0); an exchange listing may lag, so a resend waits this long (reconcile.ts).
   */
  readonly settleMs: number;
  /** Sends one withdrawal. Called only after `find` answered NOT_FOUND. */
  submit(req: RailSubmit): Promise<RailWithdrawal>;
  /** The withdrawal the rail holds for this lookup, as it is now. */
  find(lookup: RailLookup): Promise<RailFind>;
}

export type PaperRailOptions = {
  /** Each `find` moves a withdrawal one step: SUBMITTED → BROADCAST (txid) → CONFIRMED. */
  stepsPerFind?: number;
  /** The network fee the paper exchange charges per withdrawal (out of the amount, like Kraken). */
  feeSats?: bigint;
};

/**
 * The paper rail: keeps withdrawals by client id in memory and simulates the network, one step
 * per look: submitted, then broadcast with a txid (SHA-256-like hex derived from the client id),
 * then confirmed. Labelled `paper` in the API, never passed off as a real transfer.
 */
export class PaperWithdrawalRail implements WithdrawalRail {
  readonly name = 'paper';
  readonly settleMs = 0;
  private readonly byClientId = new Map<string, RailWithdrawal>();
  private readonly feeSats: bigint;
  /** How many times `submit` actually created a withdrawal (exactly-once tests count these). */
  submissions = 0;

  constructor(opts: PaperRailOptions = {}) {
    this.feeSats = opts.feeSats ?? 0n;
  }

  submit(req: RailSubmit): Promise<RailWithdrawal> {
    const existing = this.byClientId.get(req.clientId);
    // A real exchange would send twice here; the paper one refuses, so a double send fails loudly in tests.
    if (existing) return Promise.reject(new Error(`paper rail: a withdrawal with client id ${req.clientId} was already sent`));
    this.submissions += 1;
    const w: RailWithdrawal = {
      clientId: req.clientId,
      railRef: `paper-${this.submissions}-${req.clientId}`,
      sats: req.sats - this.feeSats,
      feeSats: this.feeSats,
      address: req.address,
      state: 'SUBMITTED',
      txid: null,
      failureReason: null,
    };
    this.byClientId.set(req.clientId, w);
    return Promise.resolve({ ...w });
  }

  find(lookup: RailLookup): Promise<RailFind> {
    const w = this.byClientId.get(lookup.clientId);
    if (!w) return Promise.resolve({ kind: 'NOT_FOUND' });
    if (w.state === 'SUBMITTED') {
      w.state = 'BROADCAST';
      w.txid = paperTxid(lookup.clientId);
    } else if (w.state === 'BROADCAST') {
      w.state = 'CONFIRMED';
    }
    return Promise.resolve({ kind: 'FOUND', withdrawal: { ...w } });
  }

  /** Every withdrawal this rail holds (tests). */
  all(): RailWithdrawal[] {
    return [...this.byClientId.values()].map((w) => ({ ...w }));
  }
}

/** 64 hex characters, stable per client id (a paper transaction has no real hash). */
const paperTxid = (clientId: string): string => createHash('sha256').update(`paper-withdrawal:${clientId}`).digest('hex');

/** The rail refused the withdrawal and certainly sent nothing (unknown key, insufficient funds…): it FAILS. */
export class RailRefusedError extends Error {
  constructor(
    readonly rail: string,
    message: string,
  ) {
    super(message);
    this.name = 'RailRefusedError';
  }
}
