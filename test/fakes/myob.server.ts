import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal, readBody, sendJson } from './http';

/**
 * A local MYOB Business API (AccountRight API v2) as developer.myob.com documents it, on one port:
 * - secure.myob.com `GET /oauth2/account/authorize` (automatic consent to one company file: 302 with code,
 *   state and, with prompt=consent, businessId + businessName) and `POST /oauth2/v1/authorize` (form
 *   client_id/client_secret; authorization_code and refresh_token grants; expires_in "1200"; a used
 *   refresh token is refused)
 * - api.myob.com `GET|POST /accountright/{cf}/GeneralLedger/GeneralJournal` checking `x-myobapi-key`
 *   (403 DeveloperInactive), `x-myobapi-version: v2`, the bearer (401 OAuthTokenIsInvalid, ErrorCode 31001),
 *   `x-myobapi-cftoken` where the file has credentials (403), per-key limits (403 RateLimitError per second
 *   and per day), that debits equal credits (400), and `$filter=DisplayID eq '…'`; 201 + Location on create.
 * Failures can be injected (500, 504 GatewayTimeout, a hang), before or after the journal is stored.
 */

export type MyobFakeFile = { businessId: string; businessName: string; accountUids: string[]; taxCodeUids: string[]; credentials?: { username: string; password: string } };
export type MyobInjectedFailure = { status: 500 | 504; afterStore?: boolean } | { hang: true; afterStore?: boolean } | { rateLimit: 'second' | 'day' };

export type MyobFakeOptions = {
  apiKey: string;
  apiSecret: string;
  redirectUri: string;
  files: MyobFakeFile[];
  limits?: { perSecond?: number; perDay?: number };
  now?: () => number;
  accessTokenTtlSeconds?: number;
};

export type StoredGeneralJournal = {
  UID: string;
  DisplayID: string | null;
  DateOccurred: string;
  IsTaxInclusive: boolean;
  Memo: string | null;
  GSTReportingMethod: string | null;
  Lines: Array<{ Account: { UID: string }; Amount: number; IsCredit: boolean; Memo?: string; TaxCode: { UID: string } }>;
  RowVersion: string;
};

type Grant = { id: string; refreshToken: string; businessIds: string[]; scope: string };

const INFORMATION = 'Warning, error messages have not been finalised in this release and may change';
const myobError = (Name: string, Message: string, extra: { AdditionalDetails?: string; ErrorCode?: number | null } = {}) => ({
  Errors: [{ Name, Message, AdditionalDetails: extra.AdditionalDetails ?? null, ErrorCode: extra.ErrorCode ?? null, Severity: 'Error', LearnMore: null }],
  Information: INFORMATION,
});

export type MyobFake = Awaited<ReturnType<typeof startMyobFake>>;

export async function startMyobFake(opts: MyobFakeOptions) {
  const now = opts.now ?? (() => Date.now());
  const perSecond = opts.limits?.perSecond ?? 8;
  const perDay = opts.limits?.perDay ?? 1_000_000;
  const ttl = opts.accessTokenTtlSeconds ?? 1200;
  const codes = new Map<string, { businessId: string; scope: string; used: boolean; expiresAt: number }>();
  const grants = new Map<string, Grant>();
  const accessTokens = new Map<string, { grantId: string; expiresAt: number }>();
  const journals = new Map<string, StoredGeneralJournal[]>();
  const calls: number[] = [];
  const failures: MyobInjectedFailure[] = [];
  const hung: ServerResponse[] = [];
  const log: Array<{ method: string; path: string; status: number; query: string }> = [];
  let consentFile: string | null = opts.files[0]?.businessId ?? null;

  function issue(grant: Grant): Record<string, unknown> {
    const access = `myat_${randomBytes(18).toString('hex')}`;
    accessTokens.set(access, { grantId: grant.id, expiresAt: now() + ttl * 1000 });
    return { access_token: access, token_type: 'bearer', expires_in: String(ttl), refresh_token: grant.refreshToken, scope: grant.scope, user: { uid: grant.id, username: 'owner@demo.example' } };
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    if (form.get('client_id') !== opts.apiKey || form.get('client_secret') !== opts.apiSecret) return sendJson(res, 400, { error: 'invalid_client' });
    if (form.get('grant_type') === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      if (!code || code.used || code.expiresAt <= now() || form.get('redirect_uri') !== opts.redirectUri) return sendJson(res, 400, { error: 'invalid_grant' });
      code.used = true;
      const grant: Grant = { id: randomUUID(), refreshToken: `myrt_${randomBytes(18).toString('hex')}`, businessIds: [code.businessId], scope: code.scope };
      grants.set(grant.id, grant);
      return sendJson(res, 200, issue(grant));
    }
    if (form.get('grant_type') === 'refresh_token') {
      const grant = [...grants.values()].find((g) => g.refreshToken === form.get('refresh_token'));
      if (!grant) return sendJson(res, 400, { error: 'invalid_grant' });
      grant.refreshToken = `myrt_${randomBytes(18).toString('hex')}`;
      return sendJson(res, 200, issue(grant));
    }
    return sendJson(res, 400, { error: 'unsupported_grant_type' });
  }

  /** Answers and returns false when a header, the token, the file or a limit refuses the call. */
  function admit(req: IncomingMessage, res: ServerResponse, file: MyobFakeFile | undefined): boolean {
    if (req.headers['x-myobapi-key'] !== opts.apiKey) {
      sendJson(res, 403, myobError('DeveloperInactive', 'API key is missing or inactive'));
      return false;
    }
    const t = now();
    while ((calls[0] ?? Infinity) <= t - 86_400_000) calls.shift();
    if (calls.filter((x) => x > t - 1000).length >= perSecond) {
      sendJson(res, 403, myobError('RateLimitError', 'API key has exceeded the per-second rate limit', { AdditionalDetails: 'Header: x-myobapi-key' }));
      return false;
    }
    if (calls.length >= perDay) {
      sendJson(res, 403, myobError('RateLimitError', 'API key has exceeded the daily rate limit', { AdditionalDetails: 'Header: x-myobapi-key' }));
      return false;
    }
    calls.push(t);
    if (req.headers['x-myobapi-version'] !== 'v2') {
      sendJson(res, 400, myobError('InvalidVersion', 'The x-myobapi-version header is missing or not supported', { AdditionalDetails: 'Header: x-myobapi-version' }));
      return false;
    }
    const h = req.headers.authorization ?? '';
    const tok = accessTokens.get(h.startsWith('Bearer ') ? h.slice(7) : '');
    if (!tok || tok.expiresAt <= now()) {
      sendJson(res, 401, myobError('OAuthTokenIsInvalid', 'The supplied OAuth token (Bearer) is not valid', { AdditionalDetails: 'Header: Authorization', ErrorCode: 31001 }));
      return false;
    }
    const grant = grants.get(tok.grantId);
    if (!file || !grant?.businessIds.includes(file.businessId)) {
      sendJson(res, 403, myobError('AccessDenied', 'Access denied to the company file'));
      return false;
    }
    if (file.credentials) {
      const expected = Buffer.from(`${file.credentials.username}:${file.credentials.password}`).toString('base64');
      if (req.headers['x-myobapi-cftoken'] !== expected) {
        sendJson(res, 403, myobError('AccessDenied', 'Access denied to the company file', { AdditionalDetails: 'Header: x-myobapi-cftoken' }));
        return false;
      }
    }
    return true;
  }

  function validate(file: MyobFakeFile, body: Record<string, unknown>): string[] {
    const errs: string[] = [];
    if (typeof body.DateOccurred !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(body.DateOccurred)) errs.push('DateOccurred is required');
    if (body.DisplayID !== undefined && body.DisplayID !== null && (typeof body.DisplayID !== 'string' || body.DisplayID.length > 13)) errs.push('DisplayID must be 13 characters or fewer');
    if (typeof body.Memo === 'string' && body.Memo.length > 255) errs.push('Memo must be 255 characters or fewer');
    const lines = Array.isArray(body.Lines) ? (body.Lines as Array<Record<string, unknown>>) : [];
    if (lines.length < 2) errs.push('Lines is required');
    let debit = 0n;
    let credit = 0n;
    for (const l of lines) {
      const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(typeof l.Amount === 'number' ? String(l.Amount) : '');
      const [, whole, fraction = ''] = m ?? [];
      if (whole === undefined) {
        errs.push('Amount must be a positive amount with at most 2 decimal places');
        continue;
      }
      const c = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
      if (l.IsCredit === true) credit += c;
      else if (l.IsCredit === false) debit += c;
      else errs.push('IsCredit is required');
      const account = (l.Account as { UID?: unknown } | undefined)?.UID;
      if (typeof account !== 'string' || !file.accountUids.includes(account)) errs.push('Account not found');
      const tax = (l.TaxCode as { UID?: unknown } | undefined)?.UID;
      if (typeof tax !== 'string' || !file.taxCodeUids.includes(tax)) errs.push('TaxCode not found');
    }
    if (debit !== credit) errs.push('Total debits must equal total credits');
    return errs;
  }

  async function generalJournal(req: IncomingMessage, res: ServerResponse, url: URL, file: MyobFakeFile | undefined): Promise<void> {
    if (!admit(req, res, file) || !file) return;
    const list = journals.get(file.businessId) ?? [];
    if (req.method === 'GET') {
      const filter = url.searchParams.get('$filter') ?? '';
      const m = /^DisplayID eq '([^']*)'$/.exec(filter);
      if (filter !== '' && !m) return sendJson(res, 400, myobError('InvalidFilter', 'The $filter is not supported'));
      const items = list.filter((j) => !m || j.DisplayID === m[1]).map((j) => ({ ...j, URI: `${base()}/accountright/${file.businessId}/GeneralLedger/GeneralJournal/${j.UID}` }));
      return sendJson(res, 200, { Items: items, NextPageLink: null, Count: items.length });
    }
    const failure = failures.shift();
    if (failure && 'rateLimit' in failure) {
      return sendJson(res, 403, myobError('RateLimitError', failure.rateLimit === 'day' ? 'API key has exceeded the daily rate limit' : 'API key has exceeded the per-second rate limit', { AdditionalDetails: 'Header: x-myobapi-key' }));
    }
    if (failure && !failure.afterStore) return fail(res, failure);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, myobError('SerializationError', 'Error converting value', { ErrorCode: 50 }));
    }
    const errs = validate(file, body);
    if (errs.length > 0) {
      const out = { Errors: errs.map((Message) => ({ Name: 'ValidationError', Message, AdditionalDetails: null, ErrorCode: 100, Severity: 'Error', LearnMore: null })), Information: INFORMATION };
      return sendJson(res, 400, out);
    }
    const j: StoredGeneralJournal = {
      UID: randomUUID(),
      DisplayID: typeof body.DisplayID === 'string' ? body.DisplayID : `GJ${String(list.length + 1).padStart(6, '0')}`,
      DateOccurred: String(body.DateOccurred),
      IsTaxInclusive: body.IsTaxInclusive === true,
      Memo: typeof body.Memo === 'string' ? body.Memo : null,
      GSTReportingMethod: typeof body.GSTReportingMethod === 'string' ? body.GSTReportingMethod : null,
      Lines: body.Lines as StoredGeneralJournal['Lines'],
      RowVersion: String(BigInt(`0x${randomBytes(7).toString('hex')}`)),
    };
    journals.set(file.businessId, [...list, j]);
    if (failure) return fail(res, failure);
    res.writeHead(201, { Location: `${base()}/accountright/${file.businessId}/GeneralLedger/GeneralJournal/${j.UID}`, 'Content-Length': '0' }).end();
  }

  function fail(res: ServerResponse, failure: MyobInjectedFailure): void {
    if ('hang' in failure) {
      hung.push(res);
      return;
    }
    if ('status' in failure && failure.status === 504) return sendJson(res, 504, myobError('GatewayTimeout', 'Connection to the API has timed out'));
    sendJson(res, 500, myobError('InternalError', 'An unexpected error occurred'));
  }

  let baseUrl = '';
  const base = (): string => baseUrl;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    res.on('finish', () => log.push({ method: req.method ?? '', path: url.pathname, status: res.statusCode, query: url.search }));
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/oauth2/account/authorize') {
        const q = url.searchParams;
        if (q.get('client_id') !== opts.apiKey || q.get('redirect_uri') !== opts.redirectUri || q.get('response_type') !== 'code') return sendJson(res, 400, { error: 'invalid_request' });
        const redirect = new URL(opts.redirectUri);
        if (consentFile === null) redirect.searchParams.set('error', 'access_denied');
        else {
          const code = randomBytes(16).toString('hex');
          codes.set(code, { businessId: consentFile, scope: q.get('scope') ?? '', used: false, expiresAt: now() + 120_000 });
          redirect.searchParams.set('code', code);
          redirect.searchParams.set('scope', q.get('scope') ?? '');
          if (q.get('prompt') === 'consent') {
            redirect.searchParams.set('businessId', consentFile);
            redirect.searchParams.set('businessName', opts.files.find((f) => f.businessId === consentFile)?.businessName ?? '');
          }
        }
        if (q.get('state') !== null) redirect.searchParams.set('state', q.get('state')!);
        res.writeHead(302, { Location: redirect.toString() }).end();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/oauth2/v1/authorize') return token(req, res);
      const gj = /^\/accountright\/([^/]+)\/GeneralLedger\/GeneralJournal\/?$/i.exec(url.pathname);
      if (gj && (req.method === 'GET' || req.method === 'POST')) return generalJournal(req, res, url, opts.files.find((f) => f.businessId === gj[1]));
      sendJson(res, 404, myobError('NotFound', 'Resource not found'));
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, myobError('InternalError', 'An unexpected error occurred'));
    });
  });

  const listening = await listenLocal(server);
  baseUrl = listening.url;
  return {
    url: listening.url,
    journals: (businessId: string): StoredGeneralJournal[] => journals.get(businessId) ?? [],
    requests: () => [...log],
    inject: (...f: MyobInjectedFailure[]): void => {
      failures.push(...f);
    },
    consentTo: (businessId: string | null): void => {
      consentFile = businessId;
    },
    expireAccessTokens: (): void => {
      for (const t of accessTokens.values()) t.expiresAt = Math.min(t.expiresAt, now());
    },
    close: async (): Promise<void> => {
      for (const r of hung) r.destroy();
      await listening.close();
    },
  };
}
