import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal, readBody, sendJson } from './http';

/**
 * A local Xero that behaves as developer.xero.com documents it, on one port:
 * - login.xero.com  `GET /identity/connect/authorize` (consent is automatic: 302 to redirect_uri with code + state)
 * - identity.xero.com `POST /connect/token` (authorization_code with PKCE S256, refresh_token with rotation:
 *   a used refresh token is `invalid_grant`; refresh tokens die 60 days after issue), `POST /connect/revocation`
 * - api.xero.com `GET /connections`, `DELETE /connections/{id}`, `PUT|POST|GET /api.xro/2.0/ManualJournals`
 *   checking the bearer (401 TokenExpired), `xero-tenant-id` (403 AuthenticationUnsuccessful when not connected),
 *   `Idempotency-Key` (the same key answers the first response again), balance (400 ValidationException),
 *   and per-organisation limits with X-MinLimit-Remaining / X-DayLimit-Remaining / X-AppMinLimit-Remaining
 *   and 429 + Retry-After + X-Rate-Limit-Problem.
 * Failures can be injected per call (500, 503, a hang), before or after the journal is stored.
 */

export type XeroFakeOrganisation = { tenantId: string; name: string; accountCodes?: string[] };
export type XeroFakeLimits = { concurrent: number; perMinute: number; perDay: number; appPerMinute: number };
export type XeroInjectedFailure = { status: 500 | 503; afterStore?: boolean } | { hang: true; afterStore?: boolean } | { status: 429; retryAfterSeconds: number; problem: 'minute' | 'day' | 'concurrent' | 'appminute' };

export type XeroFakeOptions = {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  organisations: XeroFakeOrganisation[];
  limits?: Partial<XeroFakeLimits>;
  now?: () => number;
  accessTokenTtlSeconds?: number;
  /** Milliseconds every ManualJournals call takes (to exercise the concurrency limit). */
  latencyMs?: number;
};

/** A JSON scalar as the text Xero would store, or undefined when absent (null/undefined) or not a scalar. */
function scalarText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

export type StoredManualJournal = {
  ManualJournalID: string;
  Narration: string;
  Date: string;
  Status: string;
  LineAmountTypes: string;
  JournalLines: Array<{ LineAmount: number; AccountCode: string; Description?: string; TaxType?: string }>;
  idempotencyKey: string | null;
};

type Grant = { id: string; authEventId: string; refreshToken: string; refreshIssuedAt: number; accessTokens: Set<string>; revoked: boolean; scope: string };
type Connection = { id: string; authEventId: string; grantId: string; tenantId: string; tenantName: string; createdDateUtc: string; updatedDateUtc: string };
/** A journal as Xero shows it: without the idempotency key the fake files it under. */
function publicJournal(j: StoredManualJournal): Omit<StoredManualJournal, 'idempotencyKey'> {
  return { ManualJournalID: j.ManualJournalID, Narration: j.Narration, Date: j.Date, Status: j.Status, LineAmountTypes: j.LineAmountTypes, JournalLines: j.JournalLines };
}

/** A connection as Xero lists it: without the grant it belongs to. */
function publicConnection(c: Connection): Omit<Connection, 'grantId'> {
  return { id: c.id, authEventId: c.authEventId, tenantId: c.tenantId, tenantName: c.tenantName, createdDateUtc: c.createdDateUtc, updatedDateUtc: c.updatedDateUtc };
}

type Code = { grantScope: string; redirectUri: string; challenge: string | null; method: string | null; expiresAt: number; used: boolean; tenantIds: string[] };

const REFRESH_TTL_MS = 60 * 86_400_000;

export type XeroFake = Awaited<ReturnType<typeof startXeroFake>>;

export async function startXeroFake(opts: XeroFakeOptions) {
  const now = opts.now ?? (() => Date.now());
  const limits: XeroFakeLimits = { concurrent: 5, perMinute: 60, perDay: 5000, appPerMinute: 10_000, ...opts.limits };
  const ttl = opts.accessTokenTtlSeconds ?? 1800;
  const codes = new Map<string, Code>();
  const grants = new Map<string, Grant>();
  const accessTokens = new Map<string, { grantId: string; expiresAt: number }>();
  const connections = new Map<string, Connection>();
  const journals = new Map<string, StoredManualJournal[]>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const calls = new Map<string, number[]>();
  const appCalls: number[] = [];
  const inFlight = new Map<string, number>();
  const peakInFlight = new Map<string, number>();
  const failures: XeroInjectedFailure[] = [];
  const hung: ServerResponse[] = [];
  const log: Array<{ method: string; path: string; status: number; tenantId?: string; idempotencyKey?: string }> = [];
  let consentTenantIds: string[] = opts.organisations.map((o) => o.tenantId);

  const orgOf = (tenantId: string): XeroFakeOrganisation | undefined => opts.organisations.find((o) => o.tenantId === tenantId);

  function basicClientOk(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return false;
    return Buffer.from(h.slice(6), 'base64').toString('utf8') === `${opts.clientId}:${opts.clientSecret}`;
  }

  function issueTokens(grant: Grant): Record<string, unknown> {
    const access = `xat_${randomBytes(18).toString('hex')}`;
    accessTokens.set(access, { grantId: grant.id, expiresAt: now() + ttl * 1000 });
    grant.accessTokens.add(access);
    return { access_token: access, expires_in: ttl, token_type: 'Bearer', refresh_token: grant.refreshToken, scope: grant.scope };
  }

  /** 401 in Xero's problem+json shape; null when the bearer is good. */
  function bearerGrant(req: IncomingMessage, res: ServerResponse): Grant | null {
    const h = req.headers.authorization ?? '';
    const token = h.startsWith('Bearer ') ? h.slice(7) : '';
    const t = accessTokens.get(token);
    const grant = t ? grants.get(t.grantId) : undefined;
    if (!t || !grant || grant.revoked) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      sendJson(res, 401, { Type: null, Title: 'Unauthorized', Status: 401, Detail: 'AuthenticationUnsuccessful', Instance: randomUUID(), Extensions: {} });
      return null;
    }
    if (t.expiresAt <= now()) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token", error_description="The token expired"');
      sendJson(res, 401, { Type: null, Title: 'Unauthorized', Status: 401, Detail: `TokenExpired: token expired at ${new Date(t.expiresAt).toISOString()}`, Instance: randomUUID(), Extensions: {} });
      return null;
    }
    return grant;
  }

  function rateHeaders(res: ServerResponse, tenantId: string): void {
    const t = now();
    const c = (calls.get(tenantId) ?? []).filter((x) => x > t - 86_400_000);
    res.setHeader('X-MinLimit-Remaining', String(Math.max(0, limits.perMinute - c.filter((x) => x > t - 60_000).length)));
    res.setHeader('X-DayLimit-Remaining', String(Math.max(0, limits.perDay - c.length)));
    res.setHeader('X-AppMinLimit-Remaining', String(Math.max(0, limits.appPerMinute - appCalls.filter((x) => x > t - 60_000).length)));
  }

  /** Counts the call; answers 429 (and returns false) when a limit is exceeded. */
  function admit(res: ServerResponse, tenantId: string): boolean {
    const t = now();
    const c = (calls.get(tenantId) ?? []).filter((x) => x > t - 86_400_000);
    calls.set(tenantId, c);
    const minute = c.filter((x) => x > t - 60_000);
    let problem: string | null = null;
    let retryAfter = 1;
    if ((inFlight.get(tenantId) ?? 0) >= limits.concurrent) problem = 'concurrent';
    else if (minute.length >= limits.perMinute) {
      problem = 'minute';
      retryAfter = Math.max(1, Math.ceil(((minute[0] ?? t) + 60_000 - t) / 1000));
    } else if (c.length >= limits.perDay) {
      problem = 'day';
      retryAfter = Math.max(1, Math.ceil(((c[0] ?? t) + 86_400_000 - t) / 1000));
    } else if (appCalls.filter((x) => x > t - 60_000).length >= limits.appPerMinute) problem = 'appminute';
    if (problem) {
      res.setHeader('Retry-After', String(retryAfter));
      res.setHeader('X-Rate-Limit-Problem', problem);
      rateHeaders(res, tenantId);
      res.writeHead(429).end();
      return false;
    }
    c.push(t);
    appCalls.push(t);
    rateHeaders(res, tenantId);
    return true;
  }

  /** Xero's documented validation answer: the elements echoed back with their ValidationErrors. */
  function validate(tenantId: string, mj: Record<string, unknown>): string[] {
    const errors: string[] = [];
    if (typeof mj.Narration !== 'string' || mj.Narration.trim() === '') errors.push('Narration must be supplied');
    const lines = Array.isArray(mj.JournalLines) ? (mj.JournalLines as Array<Record<string, unknown>>) : [];
    if (lines.length < 2) errors.push('A manual journal must have at least two lines');
    let debit = 0n;
    let credit = 0n;
    const codes = orgOf(tenantId)?.accountCodes;
    for (const l of lines) {
      const text = typeof l.LineAmount === 'number' ? String(l.LineAmount) : '';
      const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text);
      const [, sign, whole, fraction = ''] = m ?? [];
      if (whole === undefined) {
        errors.push('LineAmount must be a number with at most 2 decimal places');
        continue;
      }
      const cents = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
      if (sign === '-') credit += cents;
      else debit += cents;
      if (typeof l.AccountCode !== 'string' || (codes && !codes.includes(l.AccountCode))) errors.push(`Account code '${String(l.AccountCode)}' is not a valid code for this document.`);
    }
    const fmt = (c: bigint): string => `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`;
    if (debit !== credit) errors.push(`The total debits (${fmt(debit)}) must equal total credits (${fmt(credit)})`);
    return errors;
  }

  async function manualJournals(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const grant = bearerGrant(req, res);
    if (!grant) return;
    const tenantId = String(req.headers['xero-tenant-id'] ?? '');
    const connected = [...connections.values()].some((c) => c.grantId === grant.id && c.tenantId === tenantId);
    if (!connected) {
      sendJson(res, 403, { Type: null, Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful', Instance: randomUUID(), Extensions: {} });
      return;
    }
    if (!admit(res, tenantId)) return;
    inFlight.set(tenantId, (inFlight.get(tenantId) ?? 0) + 1);
    peakInFlight.set(tenantId, Math.max(peakInFlight.get(tenantId) ?? 0, inFlight.get(tenantId) ?? 0));
    try {
      if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
      if (req.method === 'GET') {
        const where = url.searchParams.get('where') ?? '';
        const [, needle] = /^Narration\.Contains\("(.*)"\)$/.exec(where) ?? [];
        const list = (journals.get(tenantId) ?? []).filter((j) => needle === undefined || j.Narration.includes(needle));
        sendJson(res, 200, { Id: randomUUID(), Status: 'OK', ProviderName: 'fake', DateTimeUTC: `/Date(${now()})/`, ManualJournals: list.map(publicJournal) });
        return;
      }
      const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
      if (key !== null && key.length > 128) {
        sendJson(res, 400, { ErrorNumber: 10, Type: 'ValidationException', Message: 'Idempotency-Key must be 128 characters or fewer', Elements: [] });
        return;
      }
      const replay = key !== null ? idempotent.get(`${tenantId}\u0000${key}`) : undefined;
      if (replay) {
        sendJson(res, replay.status, replay.body);
        return;
      }
      const failure = failures.shift();
      if (failure && 'status' in failure && failure.status === 429) {
        res.setHeader('Retry-After', String(failure.retryAfterSeconds));
        res.setHeader('X-Rate-Limit-Problem', failure.problem);
        res.writeHead(429).end();
        return;
      }
      if (failure && !failure.afterStore) return fail(res, failure);
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readBody(req));
      } catch {
        sendJson(res, 400, { ErrorNumber: 14, Type: 'PostDataInvalidException', Message: 'Invalid Json data' });
        return;
      }
      const elements = parsed && typeof parsed === 'object' && Array.isArray((parsed as { ManualJournals?: unknown }).ManualJournals) ? ((parsed as { ManualJournals: Array<Record<string, unknown>> }).ManualJournals) : [];
      const checked = elements.map((e) => ({ e, errors: validate(tenantId, e) }));
      let status: number;
      let body: unknown;
      if (elements.length === 0 || checked.some((c) => c.errors.length > 0)) {
        status = 400;
        body = {
          ErrorNumber: 10,
          Type: 'ValidationException',
          Message: 'A validation exception occurred',
          Elements: checked.map((c) => ({ ...c.e, ValidationErrors: c.errors.map((Message) => ({ Message })) })),
        };
      } else {
        const stored = checked.map(({ e }) => {
          const j: StoredManualJournal = {
            ManualJournalID: randomUUID(),
            Narration: String(e.Narration),
            Date: scalarText(e.Date) ?? new Date(now()).toISOString().slice(0, 10),
            Status: scalarText(e.Status) ?? 'DRAFT',
            LineAmountTypes: scalarText(e.LineAmountTypes) ?? 'NoTax',
            JournalLines: (e.JournalLines as StoredManualJournal['JournalLines']).map((l) => ({ LineAmount: l.LineAmount, AccountCode: l.AccountCode, Description: l.Description, TaxType: l.TaxType })),
            idempotencyKey: key,
          };
          journals.set(tenantId, [...(journals.get(tenantId) ?? []), j]);
          return j;
        });
        status = 200;
        body = {
          Id: randomUUID(),
          Status: 'OK',
          ProviderName: 'fake',
          DateTimeUTC: `/Date(${now()})/`,
          ManualJournals: stored.map((j) => ({ ...publicJournal(j), UpdatedDateUTC: `/Date(${now()})/`, HasAttachments: false })),
        };
      }
      if (key !== null) idempotent.set(`${tenantId}\u0000${key}`, { status, body });
      if (failure) return fail(res, failure);
      sendJson(res, status, body);
    } finally {
      inFlight.set(tenantId, (inFlight.get(tenantId) ?? 1) - 1);
    }
  }

  function fail(res: ServerResponse, failure: XeroInjectedFailure): void {
    if ('hang' in failure) {
      hung.push(res);
      return;
    }
    sendJson(res, failure.status, { Title: failure.status === 503 ? 'Service Unavailable' : 'An error occurred', Status: failure.status, Detail: 'injected' });
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    if (!basicClientOk(req)) return sendJson(res, 400, { error: 'invalid_client' });
    const type = form.get('grant_type');
    if (type === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      if (!code || code.used || code.expiresAt <= now() || code.redirectUri !== form.get('redirect_uri')) return sendJson(res, 400, { error: 'invalid_grant' });
      if (code.challenge !== null) {
        const verifier = form.get('code_verifier') ?? '';
        const expected = createHash('sha256').update(verifier).digest('base64url');
        if (code.method !== 'S256' || expected !== code.challenge) return sendJson(res, 400, { error: 'invalid_grant' });
      }
      code.used = true;
      const grant: Grant = { id: randomUUID(), authEventId: randomUUID(), refreshToken: `xrt_${randomBytes(18).toString('hex')}`, refreshIssuedAt: now(), accessTokens: new Set(), revoked: false, scope: code.grantScope };
      grants.set(grant.id, grant);
      const stamp = new Date(now()).toISOString();
      for (const tenantId of code.tenantIds) {
        // One connection per organisation per app: consenting again re-points the existing one.
        const existing = [...connections.values()].find((c) => c.tenantId === tenantId);
        if (existing) Object.assign(existing, { grantId: grant.id, authEventId: grant.authEventId, updatedDateUtc: stamp });
        else connections.set(randomUUID(), { id: '', authEventId: grant.authEventId, grantId: grant.id, tenantId, tenantName: orgOf(tenantId)?.name ?? tenantId, createdDateUtc: stamp, updatedDateUtc: stamp });
      }
      for (const [id, c] of connections) c.id = id;
      return sendJson(res, 200, issueTokens(grant));
    }
    if (type === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const grant = [...grants.values()].find((g) => g.refreshToken === presented && !g.revoked);
      if (!grant || grant.refreshIssuedAt + REFRESH_TTL_MS <= now()) return sendJson(res, 400, { error: 'invalid_grant' });
      grant.refreshToken = `xrt_${randomBytes(18).toString('hex')}`;
      grant.refreshIssuedAt = now();
      return sendJson(res, 200, issueTokens(grant));
    }
    return sendJson(res, 400, { error: 'unsupported_grant_type' });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    res.on('finish', () =>
      log.push({
        method: req.method ?? '',
        path,
        status: res.statusCode,
        tenantId: typeof req.headers['xero-tenant-id'] === 'string' ? req.headers['xero-tenant-id'] : undefined,
        idempotencyKey: typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined,
      }),
    );
    void (async () => {
      if (req.method === 'GET' && path === '/identity/connect/authorize') {
        const q = url.searchParams;
        if (q.get('client_id') !== opts.clientId || q.get('redirect_uri') !== opts.redirectUri) return sendJson(res, 400, { error: 'unauthorized_client' });
        const redirect = new URL(opts.redirectUri);
        const state = q.get('state');
        if (q.get('response_type') !== 'code' || !(q.get('scope') ?? '').split(' ').includes('offline_access')) {
          redirect.searchParams.set('error', q.get('response_type') !== 'code' ? 'unsupported_response_type' : 'invalid_scope');
        } else if (consentTenantIds.length === 0) {
          redirect.searchParams.set('error', 'access_denied');
        } else {
          const code = randomBytes(16).toString('hex');
          codes.set(code, { grantScope: q.get('scope') ?? '', redirectUri: opts.redirectUri, challenge: q.get('code_challenge'), method: q.get('code_challenge_method'), expiresAt: now() + 300_000, used: false, tenantIds: [...consentTenantIds] });
          redirect.searchParams.set('code', code);
          redirect.searchParams.set('scope', q.get('scope') ?? '');
        }
        if (state !== null) redirect.searchParams.set('state', state);
        res.writeHead(302, { Location: redirect.toString() }).end();
        return;
      }
      if (req.method === 'POST' && path === '/connect/token') return token(req, res);
      if (req.method === 'POST' && path === '/connect/revocation') {
        const form = new URLSearchParams(await readBody(req));
        if (!basicClientOk(req)) return sendJson(res, 400, { error: 'invalid_client' });
        const grant = [...grants.values()].find((g) => g.refreshToken === form.get('token'));
        if (grant) {
          grant.revoked = true;
          for (const [id, c] of connections) if (c.grantId === grant.id) connections.delete(id);
        }
        res.writeHead(200).end();
        return;
      }
      if (path === '/connections' && req.method === 'GET') {
        const grant = bearerGrant(req, res);
        if (!grant) return;
        const authEventId = url.searchParams.get('authEventId');
        const list = [...connections.values()].filter((c) => c.grantId === grant.id && (!authEventId || c.authEventId === authEventId));
        return sendJson(res, 200, list.map((c) => ({ ...publicConnection(c), tenantType: 'ORGANISATION' })));
      }
      const [, deletedId] = /^\/connections\/([^/]+)$/.exec(path) ?? [];
      if (deletedId !== undefined && req.method === 'DELETE') {
        const grant = bearerGrant(req, res);
        if (!grant) return;
        const c = connections.get(deletedId);
        if (!c || c.grantId !== grant.id) return sendJson(res, 404, { Title: 'Not Found', Status: 404 });
        connections.delete(deletedId);
        res.writeHead(204).end();
        return;
      }
      if (path === '/api.xro/2.0/ManualJournals' && (req.method === 'PUT' || req.method === 'POST' || req.method === 'GET')) return manualJournals(req, res, url);
      sendJson(res, 404, { Title: 'Not Found', Status: 404 });
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { Title: 'An error occurred', Status: 500 });
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    /** Journals stored per organisation (what the tenant would see in Xero). */
    journals: (tenantId: string): StoredManualJournal[] => journals.get(tenantId) ?? [],
    connections: (): Array<Omit<Connection, 'grantId'>> => [...connections.values()].map(publicConnection),
    requests: () => [...log],
    peakInFlight: (tenantId: string): number => peakInFlight.get(tenantId) ?? 0,
    /** Queue failures for the next ManualJournals writes, in order. */
    inject: (...f: XeroInjectedFailure[]): void => {
      failures.push(...f);
    },
    /** Organisations the next consent grants (none: the user cancels → access_denied). */
    consentTo: (tenantIds: string[]): void => {
      consentTenantIds = tenantIds;
    },
    /** Every access token issued so far expires now (the client still believes it is valid). */
    expireAccessTokens: (): void => {
      for (const t of accessTokens.values()) t.expiresAt = Math.min(t.expiresAt, now());
    },
    close: async (): Promise<void> => {
      for (const r of hung) r.destroy();
      await listening.close();
    },
  };
}
