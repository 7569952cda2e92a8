/**
 * A fake Swyftx funding API on 127.0.0.1 for withdrawal tests. Authenticates like Swyftx (and like
 * test/fakes/swyftx.server.ts): POST /auth/refresh/ trades the API key for a JWT it signs itself;
 * every other call must carry it as a Bearer token with a valid signature and `exp`. Saved withdrawal
 * addresses are set up by the test (Swyftx confirms them by e-mail/SMS); POST /funds/withdraw/BTC/
 * sends `quantity` BTC to a saved `address_id` (fee on top), never deduping: two POSTs are two
 * withdrawals. Each history read moves every withdrawal one step: PENDING → SENT (txid) → COMPLETED.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { JsonNumberLiteral, stringifyJson, textToUnits, unitsToText } from '../../lib/money';
import { listenLocal, readBody, sendText } from './http';

export type FakeSwyftxWithdrawal = {
  id: string;
  addressId: string;
  address: string;
  sats: bigint;
  feeSats: bigint;
  createdMs: number;
  status: 'PENDING' | 'SENT' | 'COMPLETED' | 'FAILED';
  txid: string | null;
};

export type FakeSwyftxFunding = {
  url: string;
  apiKey: string;
  close(): Promise<void>;
  /** A saved (already confirmed) withdrawal address. */
  addAddress(name: string, address: string): string;
  withdrawals(): FakeSwyftxWithdrawal[];
  /** While on, POST /funds/withdraw/ executes, then the connection is cut before the answer. */
  dropAfterWithdraw(on: boolean): void;
  tokensIssued(): number;
  unauthorised(): number;
};

const sendError = (res: ServerResponse, status: number, error: string, message: string): void => sendText(res, status, JSON.stringify({ error: { error, message } }));

export async function startFakeSwyftxFunding(opts: { feeSats?: bigint } = {}): Promise<FakeSwyftxFunding> {
  const apiKey = `fake-swyftx-funding-${randomBytes(6).toString('hex')}`;
  const feeSats = opts.feeSats ?? 3000n;
  const signingKey = randomBytes(32);
  const addresses = new Map<string, { name: string; address: string }>();
  const rows: FakeSwyftxWithdrawal[] = [];
  let drop = false;
  let issued = 0;
  let refused = 0;
  let nextAddressId = 100;

  const issueToken = (): string => {
    issued += 1;
    const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: 'fake-user', scope: 'app.funds.withdraw app.account.read', iat: now, exp: now + 3600, jti: randomUUID() })}`;
    return `${head}.${createHmac('sha256', signingKey).update(head).digest('base64url')}`;
  };
  const bearerOk = (req: IncomingMessage): boolean => {
    const [, header, payload, signature] = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(String(req.headers.authorization ?? '')) ?? [];
    if (header === undefined || payload === undefined || signature === undefined) return false;
    const expected = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    try {
      const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: number };
      return typeof exp === 'number' && exp > Date.now() / 1000;
    } catch {
      return false;
    }
  };
  const step = (r: FakeSwyftxWithdrawal): void => {
    if (r.status === 'PENDING') {
      r.status = 'SENT';
      r.txid = createHash('sha256').update(`swyftx-fake:${r.id}`).digest('hex');
    } else if (r.status === 'SENT') r.status = 'COMPLETED';
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      if (req.method === 'POST' && url.pathname === '/auth/refresh/') {
        let key: unknown;
        try {
          key = (JSON.parse(body) as { apiKey?: unknown }).apiKey;
        } catch {
          key = undefined;
        }
        if (key !== apiKey) return sendError(res, 401, 'InvalidApiKey', 'Invalid API Key');
        return sendText(res, 200, JSON.stringify({ accessToken: issueToken(), scope: 'app.funds.withdraw' }));
      }
      if (!bearerOk(req)) {
        refused += 1;
        return sendError(res, 401, 'Unauthorized', 'Invalid or expired access token');
      }
      if (req.method === 'GET' && url.pathname === '/address/withdraw/BTC/') {
        return sendText(
          res,
          200,
          stringifyJson([...addresses].map(([id, a]) => ({ id: new JsonNumberLiteral(id), code: 'BTC', name: a.name, address_details: { address: a.address } }))),
        );
      }
      if (req.method === 'POST' && url.pathname === '/funds/withdraw/BTC/') {
        const raw = /"quantity"\s*:\s*"?(\d+(?:\.\d+)?)"?/.exec(body)?.[1];
        const addressId = /"address_id"\s*:\s*"?(\d+)"?/.exec(body)?.[1];
        const saved = addressId === undefined ? undefined : addresses.get(addressId);
        if (!saved || addressId === undefined) return sendError(res, 400, 'InvalidAddress', 'Unknown withdrawal address');
        let sats: bigint;
        try {
          sats = textToUnits(raw ?? '', 8, 'exact');
        } catch {
          return sendError(res, 400, 'InvalidQuantity', 'Quantity must be a positive amount');
        }
        if (sats <= 0n) return sendError(res, 400, 'InvalidQuantity', 'Quantity must be a positive amount');
        const row: FakeSwyftxWithdrawal = { id: `${rows.length + 5000}`, addressId, address: saved.address, sats, feeSats, createdMs: Date.now(), status: 'PENDING', txid: null };
        rows.push(row);
        if (drop) {
          req.socket.destroy();
          return;
        }
        return sendText(res, 200, stringifyJson({ id: new JsonNumberLiteral(row.id), status: 'PENDING' }));
      }
      if (req.method === 'GET' && url.pathname === '/history/withdraw/BTC/') {
        const limit = Number(url.searchParams.get('limit') ?? '20');
        for (const r of rows) step(r);
        const newest = [...rows].reverse().slice(0, limit);
        return sendText(
          res,
          200,
          stringifyJson({
            record: newest.map((r) => ({
              id: new JsonNumberLiteral(r.id),
              quantity: new JsonNumberLiteral(unitsToText(r.sats, 8)),
              fee: new JsonNumberLiteral(unitsToText(r.feeSats, 8)),
              address: r.address,
              status: r.status,
              created_time: new JsonNumberLiteral(String(r.createdMs)),
              txid: r.txid,
            })),
          }),
        );
      }
      return sendError(res, 404, 'NotFound', 'No such endpoint');
    })().catch(() => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', 'fake failed');
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    apiKey,
    close: listening.close,
    addAddress: (name, address) => {
      const id = String(nextAddressId++);
      addresses.set(id, { name, address });
      return id;
    },
    withdrawals: () => rows.map((r) => ({ ...r })),
    dropAfterWithdraw: (on) => {
      drop = on;
    },
    tokensIssued: () => issued,
    unauthorised: () => refused,
  };
}
