/**
 * A fake Kraken funding API on 127.0.0.1 (Withdraw, WithdrawStatus) for withdrawal tests. It
 * authenticates like Kraken (and like test/fakes/kraken.server.ts): API-Key must be known, API-Sign
 * must equal base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + postdata))), nonces must
 * increase; answers in the {error, result} envelope. Withdrawal keys are set up by the test (as a
 * Kraken user does in the UI); Withdraw refuses an unknown key or a key/address mismatch, takes the
 * fee out of `amount`, and, like Kraken, never dedupes: two calls are two withdrawals. Each
 * WithdrawStatus call moves every withdrawal one step: Initial → Pending → Settled (txid) → Success.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { textToUnits, unitsToText } from '../../lib/money';
import { listenLocal, readBody, sendJson, sendText } from './http';

export type FakeKrakenWithdrawal = {
  refid: string;
  key: string;
  address: string;
  /** Requested (gross) sats; Kraken lists `amount` net of `fee`. */
  grossSats: bigint;
  feeSats: bigint;
  timeSec: number;
  status: 'Initial' | 'Pending' | 'Settled' | 'Success' | 'Failure';
  txid: string | null;
};

export type FakeKrakenFunding = {
  url: string;
  apiKey: string;
  apiSecret: string;
  close(): Promise<void>;
  /** Sets up a withdrawal key (name → address), as a Kraken user does. */
  addKey(name: string, address: string): void;
  withdrawals(): FakeKrakenWithdrawal[];
  /** While on, Withdraw executes but never answers (a crash or a cut between acceptance and our record). */
  swallowWithdrawResponses(on: boolean): void;
  /** Listing lag: a withdrawal shows in WithdrawStatus only this long after it was made. */
  setListingLagMs(ms: number): void;
  /** The next WithdrawStatus step fails this withdrawal. */
  failNext(refid: string): void;
  /** Requests by private method, in order. */
  calls(): string[];
  rejectedAuth(): number;
  /** Calls `listener` as each withdrawal is executed, before its answer (if any) is sent. */
  onWithdraw(listener: (w: FakeKrakenWithdrawal) => void): () => void;
};

const refChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const newRefid = (): string => {
  const part = (n: number): string => Array.from(randomBytes(n), (b) => refChars[b % 32]).join('');
  return `A${part(6)}-${part(6)}-${part(6)}`;
};

export async function startFakeKrakenFunding(opts: { feeSats?: bigint } = {}): Promise<FakeKrakenFunding> {
  const apiKey = `fake-kraken-funding-${randomBytes(6).toString('hex')}`;
  const apiSecret = randomBytes(64).toString('base64');
  const feeSats = opts.feeSats ?? 1500n;
  const keys = new Map<string, string>();
  const rows: FakeKrakenWithdrawal[] = [];
  const failing = new Set<string>();
  const calls: string[] = [];
  let swallow = false;
  let lagMs = 0;
  let lastNonce = 0n;
  let badAuth = 0;
  const listeners = new Set<(w: FakeKrakenWithdrawal) => void>();

  const authenticate = (req: IncomingMessage, path: string, body: string, params: URLSearchParams): string | null => {
    if (req.headers['api-key'] !== apiKey) return 'EAPI:Invalid key';
    const nonce = params.get('nonce') ?? '';
    const inner = createHash('sha256').update(nonce + body).digest();
    const expected = createHmac('sha512', Buffer.from(apiSecret, 'base64')).update(Buffer.concat([Buffer.from(path), inner])).digest();
    const given = Buffer.from(String(req.headers['api-sign'] ?? ''), 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'EAPI:Invalid signature';
    if (!/^\d{1,30}$/.test(nonce) || BigInt(nonce) <= lastNonce) return 'EAPI:Invalid nonce';
    lastNonce = BigInt(nonce);
    return null;
  };

  const listed = (r: FakeKrakenWithdrawal) => ({
    method: 'Bitcoin',
    aclass: 'currency',
    asset: 'XXBT',
    refid: r.refid,
    txid: r.txid ?? '',
    info: r.address,
    // Kraken lists XBT with 10 decimals.
    amount: unitsToText((r.grossSats - r.feeSats) * 100n, 10),
    fee: unitsToText(r.feeSats * 100n, 10),
    time: r.timeSec,
    status: r.status,
    key: r.key,
  });

  const step = (r: FakeKrakenWithdrawal): void => {
    if (failing.delete(r.refid)) {
      r.status = 'Failure';
      return;
    }
    if (r.status === 'Initial') r.status = 'Pending';
    else if (r.status === 'Pending') {
      r.status = 'Settled';
      r.txid = createHash('sha256').update(`kraken-fake:${r.refid}`).digest('hex');
    } else if (r.status === 'Settled') r.status = 'Success';
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      const params = new URLSearchParams(body);
      if (req.method !== 'POST' || !url.pathname.startsWith('/0/private/')) return sendJson(res, 404, { error: ['EGeneral:Unknown method'] });
      const authError = authenticate(req, url.pathname, body, params);
      if (authError) {
        badAuth += 1;
        return sendJson(res, 200, { error: [authError] });
      }
      const method = url.pathname.slice('/0/private/'.length);
      calls.push(method);
      if (method === 'Withdraw') {
        if (params.get('asset') !== 'XBT') return sendJson(res, 200, { error: ['EFunding:Invalid asset'] });
        const key = params.get('key') ?? '';
        const address = keys.get(key);
        if (address === undefined) return sendJson(res, 200, { error: ['EFunding:Unknown withdraw key'] });
        const given = params.get('address');
        if (given !== null && given !== address) return sendJson(res, 200, { error: ['EFunding:Invalid withdraw address'] });
        let gross: bigint;
        try {
          gross = textToUnits(params.get('amount') ?? '', 8, 'exact');
        } catch {
          return sendJson(res, 200, { error: ['EGeneral:Invalid arguments:amount'] });
        }
        if (gross <= feeSats) return sendJson(res, 200, { error: ['EFunding:Too small'] });
        const row: FakeKrakenWithdrawal = { refid: newRefid(), key, address, grossSats: gross, feeSats, timeSec: Date.now() / 1000, status: 'Initial', txid: null };
        rows.push(row);
        for (const l of listeners) l({ ...row });
        if (swallow) return; // executed, never answered
        return sendJson(res, 200, { error: [], result: { refid: row.refid } });
      }
      if (method === 'WithdrawStatus') {
        if (params.get('asset') !== null && params.get('asset') !== 'XBT') return sendJson(res, 200, { error: [], result: [] });
        const start = params.get('start');
        const visible = rows.filter((r) => Date.now() - r.timeSec * 1000 >= lagMs && (start === null || r.timeSec >= Number(start)));
        for (const r of visible) step(r);
        return sendText(res, 200, JSON.stringify({ error: [], result: [...visible].reverse().map(listed) }));
      }
      return sendJson(res, 200, { error: ['EGeneral:Unknown method'] });
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: ['EGeneral:Internal error'] });
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    apiKey,
    apiSecret,
    close: listening.close,
    addKey: (name, address) => void keys.set(name, address),
    withdrawals: () => rows.map((r) => ({ ...r })),
    swallowWithdrawResponses: (on) => {
      swallow = on;
    },
    setListingLagMs: (ms) => {
      lagMs = ms;
    },
    failNext: (refid) => void failing.add(refid),
    calls: () => [...calls],
    rejectedAuth: () => badAuth,
    onWithdraw: (listener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
