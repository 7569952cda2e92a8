import { createHash } from 'node:crypto';

/**
 * Where an approved withdrawal is sent: an exchange's withdrawal API behind one small interface.
 * `clientId` is derived from the withdrawal id (`exchangeWithdrawalRef`), so after a crash the
 * executor asks `find(clientId)` and adopts what the rail already has instead of sending again.
 */
export type RailWithdrawalState = 'SUBMITTED' | 'BROADCAST' | 'CONFIRMED' | 'FAILED';

export type RailWithdrawal = {
  clientId: string;
  /** The rail's own reference for it. */
  railRef: string;
  sats: bigint;
  address: string;
  state: RailWithdrawalState;
  txid: string | null;
  failureReason: string | null;
};

export interface WithdrawalRail {
  readonly name: string;
  /** Sends one withdrawal. Must be called only after `find(clientId)` returned null. */
  submit(req: { clientId: string; sats: bigint; address: string }): Promise<RailWithdrawal>;
  /** The withdrawal the rail holds under our client id, as it is now, or null. */
  find(clientId: string): Promise<RailWithdrawal | null>;
}

export type PaperRailOptions = {
  /** Each `find` moves a withdrawal one step: SUBMITTED → BROADCAST (txid) → CONFIRMED. */
  stepsPerFind?: number;
};

/**
 * The paper rail: keeps withdrawals by client id in memory and simulates the network, one step
 * per look: submitted, then broadcast with a txid (SHA-256-like hex derived from the client id),
 * then confirmed. Labelled `paper` in the API, never passed off as a real transfer.
 */
export class PaperWithdrawalRail implements WithdrawalRail {
  readonly name = 'paper';
  private readonly byClientId = new Map<string, RailWithdrawal>();
  /** How many times `submit` actually created a withdrawal (exactly-once tests count these). */
  submissions = 0;

  submit(req: { clientId: string; sats: bigint; address: string }): Promise<RailWithdrawal> {
    const existing = this.byClientId.get(req.clientId);
    // A real exchange would send twice here; the paper one refuses, so a double send fails loudly in tests.
    if (existing) return Promise.reject(new Error(`paper rail: a withdrawal with client id ${req.clientId} was already sent`));
    this.submissions += 1;
    const w: RailWithdrawal = {
      clientId: req.clientId,
      railRef: `paper-${this.submissions}-${req.clientId}`,
      sats: req.sats,
      address: req.address,
      state: 'SUBMITTED',
      txid: null,
      failureReason: null,
    };
    this.byClientId.set(req.clientId, w);
    return Promise.resolve({ ...w });
  }

  find(clientId: string): Promise<RailWithdrawal | null> {
    const w = this.byClientId.get(clientId);
    if (!w) return Promise.resolve(null);
    if (w.state === 'SUBMITTED') {
      w.state = 'BROADCAST';
      w.txid = paperTxid(clientId);
    } else if (w.state === 'BROADCAST') {
      w.state = 'CONFIRMED';
    }
    return Promise.resolve({ ...w });
  }

  /** Every withdrawal this rail holds (tests). */
  all(): RailWithdrawal[] {
    return [...this.byClientId.values()].map((w) => ({ ...w }));
  }
}

/** 64 hex characters, stable per client id (a paper transaction has no real hash). */
const paperTxid = (clientId: string): string => createHash('sha256').update(`paper-withdrawal:${clientId}`).digest('hex');
