import { Issuer, custom, errors as oidcErrors, generators, type BaseClient, type TokenSet } from 'openid-client';
import { AccountingApi, LineAmountTypes, ManualJournal, type ManualJournals } from 'xero-node';
import { AppError } from '../../../lib/errors';
import { BooksReason, booksError } from './errors';
import { assertBalanced, centsToWireNumber, type Journal } from './journal';
import { DEFAULT_RETRY, InMemoryRateLimiter, XERO_ORGANISATION_LIMITS, backoffDelayMs, parseRetryAfterMs, systemClock, type Clock, type RateLimiter, type RetryPolicy } from './limiter';
import { TokenKeeper, type Grant, type OAuthTokens } from './tokens';

/**
 * Xero adapter. OAuth 2.0 (authorization code + PKCE) runs on `openid-client`, the library
 * `xero-node` itself uses; ManualJournals go through xero-node's generated `AccountingApi`.
 * Why not `XeroClient`: in xero-node 20.0.0 it hard-codes https://identity.xero.com (discovery and
 * its token request) and https://api.xero.com/connections, builds consent URLs without PKCE and
 * keeps one token set per instance. `AccountingApi.basePath` can be pointed anywhere, and the
 * identity endpoints are Xero's documented ones, so the same code talks to Xero and to the local
 * fake. `/connections` (which xero-node only reaches through that hard-coded URL) is called with fetch.
 */

export const XERO_LOGIN_BASE_URL = 'https://login.xero.com';
export const XERO_IDENTITY_BASE_URL = 'https://identity.xero.com';
export const XERO_API_BASE_URL = 'https://api.xero.com';
/** Granular scope for apps created from 2 March 2026; older apps may use accounting.transactions. */
export const XERO_DEFAULT_SCOPES = ['offline_access', 'accounting.manualjournals', 'accounting.settings.read'];
const ACCESS_TOKEN_SECONDS = 1800;
const REFRESH_TOKEN_LIFETIME_MS = 60 * 86_400_000;

export type XeroClientOptions = {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scopes?: string[];
  loginBaseUrl?: string;
  identityBaseUrl?: string;
  apiBaseUrl?: string;
  clock?: Clock;
  random?: () => number;
  /** Per organisation; default Xero's 5 / 60 a minute / 5,000 a day. */
  limiter?: RateLimiter;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
};

/** Kept server side (in the session or a sealed row) between consent and callback. */
export type XeroAuthorizationRequest = { url: string; state: string; codeVerifier: string };

export type XeroConnection = { id: string; tenantId: string; tenantName: string; tenantType: string; authEventId: string; createdDateUtc: string; updatedDateUtc: string };

export type XeroConnectResult = { tokens: OAuthTokens; connections: XeroConnection[] };

export type PostedJournal = {
  provider: 'XERO' | 'MYOB';
  idempotencyKey: string;
  /** ManualJournalID (Xero) or GeneralJournal UID (MYOB). */
  externalId: string;
  /** HTTP requests this post took (lookups and retries included). */
  attempts: number;
};

type SdkFailure = { statusCode: number; body: unknown; headers: Record<string, string> };

function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const v = headers[name] ?? headers[name.toLowerCase()];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Our own deadline on an SDK call, shaped like the SDK's failures (status 0) so sdkFailure reads it the same way. */
class XeroTimeout extends Error {
  readonly response = { statusCode: 0, body: 'timeout', headers: {} };
  constructor() {
    super('the Xero call timed out');
  }
}

/** xero-node rejects with a JSON string of `{ response: { statusCode, body, headers } }`. */
function sdkFailure(err: unknown): SdkFailure {
  let parsed: unknown = err;
  if (typeof err === 'string') {
    try {
      parsed = JSON.parse(err);
    } catch {
      return { statusCode: 0, body: null, headers: {} };
    }
  }
  const r = parsed && typeof parsed === 'object' ? (parsed as { response?: { statusCode?: unknown; body?: unknown; headers?: unknown } }).response : undefined;
  const headers: Record<string, string> = {};
  if (r?.headers && typeof r.headers === 'object') {
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) if (typeof v === 'string' || typeof v === 'number') headers[k.toLowerCase()] = String(v);
  }
  return { statusCode: typeof r?.statusCode === 'number' ? r.statusCode : 0, body: r?.body ?? null, headers };
}

/** The messages of Xero's 400 ValidationException (Elements[].ValidationErrors[].Message). */
export function xeroValidationMessages(body: unknown): string[] {
  if (!body || typeof body !== 'object') return [];
  const b = body as { Message?: unknown; Elements?: unknown };
  const out: string[] = [];
  if (Array.isArray(b.Elements)) {
    for (const e of b.Elements) {
      const errs = e && typeof e === 'object' ? (e as { ValidationErrors?: unknown }).ValidationErrors : undefined;
      if (Array.isArray(errs)) for (const v of errs) if (v && typeof (v as { Message?: unknown }).Message === 'string') out.push((v as { Message: string }).Message);
    }
  }
  if (out.length === 0 && typeof b.Message === 'string') out.push(b.Message);
  return out;
}

export class XeroBooksClient {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly limiter: RateLimiter;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly scopes: string[];
  private readonly apiBase: string;
  private readonly oauth: BaseClient;
  private readonly keeper: TokenKeeper;

  constructor(private readonly opts: XeroClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.limiter = opts.limiter ?? new InMemoryRateLimiter(XERO_ORGANISATION_LIMITS, this.clock);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.scopes = opts.scopes ?? XERO_DEFAULT_SCOPES;
    if (!this.scopes.includes('offline_access')) throw new Error('Xero scopes must include offline_access to get a refresh token');
    const identity = (opts.identityBaseUrl ?? XERO_IDENTITY_BASE_URL).replace(/\/+$/, '');
    const login = (opts.loginBaseUrl ?? XERO_LOGIN_BASE_URL).replace(/\/+$/, '');
    this.apiBase = (opts.apiBaseUrl ?? XERO_API_BASE_URL).replace(/\/+$/, '');
    // Xero's published OpenID configuration, given statically: no discovery call at start-up.
    const issuer = new Issuer({
      issuer: XERO_IDENTITY_BASE_URL,
      authorization_endpoint: `${login}/identity/connect/authorize`,
      token_endpoint: `${identity}/connect/token`,
      revocation_endpoint: `${identity}/connect/revocation`,
      jwks_uri: `${identity}/.well-known/openid-configuration/jwks`,
    });
    this.oauth = new issuer.Client({
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
      redirect_uris: [opts.redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    this.oauth[custom.http_options] = (_url, options) => ({ ...options, timeout: this.timeoutMs });
    this.keeper = new TokenKeeper((rt) => this.refreshTokens(rt), () => this.clock.now(), { earlyRefreshMs: 60_000, refreshTokenLifetimeMs: REFRESH_TOKEN_LIFETIME_MS });
  }

  /** Step 1: where to send the tenant's browser; keep `state` and `codeVerifier` server side. */
  authorizationRequest(): XeroAuthorizationRequest {
    const state = generators.state();
    const codeVerifier = generators.codeVerifier();
    const url = this.oauth.authorizationUrl({
      scope: this.scopes.join(' '),
      state,
      code_challenge: generators.codeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, state, codeVerifier };
  }

  /** Step 2: the redirect came back; exchange the code and list the organisations this consent connected. */
  async completeAuthorization(callbackUrl: string, pending: { state: string; codeVerifier: string }): Promise<XeroConnectResult> {
    const params = this.oauth.callbackParams(callbackUrl);
    let set: TokenSet;
    try {
      set = await this.oauth.oauthCallback(this.opts.redirectUri, params, { state: pending.state, code_verifier: pending.codeVerifier, response_type: 'code' });
    } catch (err) {
      throw this.oauthError(err);
    }
    const tokens = this.tokensFrom(set);
    const connections = await this.listConnectionsWith(tokens.accessToken);
    return { tokens, connections };
  }

  private tokensFrom(set: TokenSet): OAuthTokens {
    if (!set.access_token || !set.refresh_token) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'Xero answered the token request without tokens');
    const now = this.clock.now();
    return {
      accessToken: set.access_token,
      refreshToken: set.refresh_token,
      accessTokenExpiresAt: new Date(now + (set.expires_in ?? ACCESS_TOKEN_SECONDS) * 1000),
      refreshTokenIssuedAt: new Date(now),
      scopes: (set.scope ?? this.scopes.join(' ')).split(' ').filter(Boolean),
    };
  }

  private oauthError(err: unknown): AppError {
    if (err instanceof AppError) return err;
    if (err instanceof oidcErrors.OPError) {
      if (err.error === 'access_denied') return booksError(BooksReason.OAUTH_DENIED, 'the Xero user did not allow the connection');
      if (err.error === 'invalid_grant') return booksError(BooksReason.RECONNECT_REQUIRED, 'Xero no longer accepts this authorisation; connect again');
      return booksError(BooksReason.PROVIDER_UNAVAILABLE, `Xero refused the token request (${err.error ?? 'unknown error'})`);
    }
    // RPError: the state or PKCE check failed on our side. Its message carries the state: not copied.
    if (err instanceof oidcErrors.RPError) return booksError(BooksReason.OAUTH_STATE_MISMATCH, 'the authorisation response does not belong to this connection attempt');
    return booksError(BooksReason.PROVIDER_UNAVAILABLE, 'Xero identity is unreachable');
  }

  /** Refresh with rotation: the refresh token presented is dead afterwards; the new one is in the result. */
  async refreshTokens(refreshToken: string): Promise<OAuthTokens> {
    try {
      return this.tokensFrom(await this.oauth.refresh(refreshToken));
    } catch (err) {
      throw this.oauthError(err);
    }
  }

  private async listConnectionsWith(accessToken: string): Promise<XeroConnection[]> {
    const res = await this.fetchApi(`${this.apiBase}/connections`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
    if (res.status === 401) throw booksError(BooksReason.RECONNECT_REQUIRED, 'Xero refused the access token');
    if (!res.ok) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, `Xero connections answered HTTP ${res.status}`, { httpStatus: res.status });
    const body = (await res.json()) as XeroConnection[];
    return body.map((c) => ({ id: c.id, tenantId: c.tenantId, tenantName: c.tenantName, tenantType: c.tenantType, authEventId: c.authEventId, createdDateUtc: c.createdDateUtc, updatedDateUtc: c.updatedDateUtc }));
  }

  private async fetchApi(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch {
      throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'Xero is unreachable');
    }
  }

  /** The organisations this grant reaches (`GET /connections`), refreshing the token once if it was refused. */
  async connections(grant: Grant): Promise<XeroConnection[]> {
    const tokens = await this.keeper.current(grant);
    try {
      return await this.listConnectionsWith(tokens.accessToken);
    } catch (err) {
      if (err instanceof AppError && err.extensions.reason === BooksReason.RECONNECT_REQUIRED) {
        return this.listConnectionsWith((await this.keeper.afterRejected(grant, tokens)).accessToken);
      }
      throw err;
    }
  }

  /**
   * Disconnects one organisation (`DELETE /connections/{id}`). When it was the grant's last one the
   * refresh token is revoked too and the stored tokens cleared, so nothing is left that can post.
   */
  async disconnect(grant: Grant, connectionId: string): Promise<{ revoked: boolean }> {
    let tokens = await this.keeper.current(grant);
    const del = (t: OAuthTokens): Promise<Response> => this.fetchApi(`${this.apiBase}/connections/${encodeURIComponent(connectionId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${t.accessToken}` } });
    let res = await del(tokens);
    if (res.status === 401) {
      tokens = await this.keeper.afterRejected(grant, tokens);
      res = await del(tokens);
    }
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, `Xero answered HTTP ${res.status} to the disconnect`, { httpStatus: res.status });
    const left = await this.listConnectionsWith(tokens.accessToken);
    if (left.length > 0) return { revoked: false };
    await this.revoke(grant);
    return { revoked: true };
  }

  /** Revokes the grant's refresh token (every connection it made goes) and forgets the tokens. */
  async revoke(grant: Grant): Promise<void> {
    const tokens = await grant.tokens.load();
    if (tokens) {
      try {
        await this.oauth.revoke(tokens.refreshToken, 'refresh_token');
      } catch (err) {
        throw this.oauthError(err);
      }
    }
    await grant.tokens.clear();
  }

  private manualJournalOf(journal: Journal): ManualJournal {
    return {
      narration: journal.narration,
      date: journal.date,
      status: ManualJournal.StatusEnum.POSTED,
      lineAmountTypes: LineAmountTypes.NoTax,
      journalLines: journal.lines.map((l) => ({
        // Xero: debits positive, credits negative.
        lineAmount: centsToWireNumber(l.side === 'DEBIT' ? l.amountAudCents : -l.amountAudCents),
        accountCode: l.account,
        description: l.description,
        ...(l.taxType ? { taxType: l.taxType } : {}),
      })),
    };
  }

  private observe(tenantId: string, headers: Record<string, string>): void {
    const minute = header(headers, 'x-minlimit-remaining');
    const day = header(headers, 'x-daylimit-remaining');
    const remaining: Array<{ windowMs: number; remaining: number }> = [];
    if (minute !== undefined) remaining.push({ windowMs: 60_000, remaining: Number(minute) });
    if (day !== undefined) remaining.push({ windowMs: 86_400_000, remaining: Number(day) });
    this.limiter.observe(tenantId, { remaining });
  }

  private async withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    p.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new XeroTimeout()), this.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Posts the journal as one ManualJournal, exactly once: every attempt carries the same
   * Idempotency-Key (the journal's), so a retry after a lost answer gets Xero's first response
   * back instead of a second journal. Retries 429 (after Retry-After), 5xx and timeouts with
   * backoff; a 401 refreshes the token once.
   */
  async postJournal(grant: Grant, tenantId: string, journal: Journal): Promise<PostedJournal> {
    assertBalanced(journal);
    const body: ManualJournals = { manualJournals: [this.manualJournalOf(journal)] };
    let tokens = await this.keeper.current(grant);
    let refreshed = false;
    let attempts = 0;
    let lastProblem = 'no attempt made';
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      const permit = await this.limiter.acquire(tenantId);
      let failure: SdkFailure | null = null;
      attempts += 1;
      try {
        const api = new AccountingApi(`${this.apiBase}/api.xro/2.0`);
        api.accessToken = tokens.accessToken;
        const res = await this.withTimeout(api.createManualJournals(tenantId, body, true, journal.idempotencyKey));
        this.observe(tenantId, Object.fromEntries(Object.entries(res.response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)])));
        const id = res.body.manualJournals?.[0]?.manualJournalID;
        if (!id) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'Xero answered without a ManualJournalID');
        return { provider: 'XERO', idempotencyKey: journal.idempotencyKey, externalId: id, attempts };
      } catch (err) {
        if (err instanceof AppError) throw err;
        failure = sdkFailure(err);
      } finally {
        permit.release();
      }
      const status = failure.statusCode;
      // On a 429 Retry-After is the exact answer; the remaining-counts would only be our estimate.
      if (status !== 429) this.observe(tenantId, failure.headers);
      if (status === 400) {
        throw booksError(BooksReason.PROVIDER_VALIDATION, 'Xero refused the journal', { messages: xeroValidationMessages(failure.body), idempotencyKey: journal.idempotencyKey });
      }
      if (status === 401) {
        if (refreshed) throw booksError(BooksReason.RECONNECT_REQUIRED, 'Xero refused a freshly refreshed token; connect again');
        tokens = await this.keeper.afterRejected(grant, tokens);
        refreshed = true;
        attempt -= 1; // A token refresh is not a failed attempt at the journal.
        continue;
      }
      if (status === 403) throw booksError(BooksReason.NOT_CONNECTED, 'this Xero organisation is not connected to Liquid ABT', { tenantId });
      if (status === 429) {
        const retryAfterMs = parseRetryAfterMs(header(failure.headers, 'retry-after'), this.clock.now()) ?? backoffDelayMs(attempt, this.retry, this.random);
        const problem = header(failure.headers, 'x-rate-limit-problem') ?? 'unknown';
        this.limiter.observe(tenantId, { retryAfterMs });
        lastProblem = `rate limited (${problem})`;
        if (retryAfterMs > this.retry.maxRetryAfterMs || attempt === this.retry.maxAttempts) {
          throw booksError(problem === 'day' ? BooksReason.DAILY_LIMIT_REACHED : BooksReason.RATE_LIMITED, `Xero ${lastProblem}`, { retryAfterMs, problem });
        }
        continue; // The limiter now holds every caller for this organisation until Retry-After.
      }
      // 0 (network, timeout), 5xx and anything unexpected: back off and try the same key again.
      lastProblem = status === 0 ? 'no answer' : `HTTP ${status}`;
      if (attempt < this.retry.maxAttempts) await this.clock.sleep(backoffDelayMs(attempt, this.retry, this.random));
    }
    throw booksError(BooksReason.PROVIDER_UNAVAILABLE, `Xero did not take the journal (${lastProblem})`, { idempotencyKey: journal.idempotencyKey });
  }

  /**
   * Finds a posted journal by its key (it is in the narration), for reconciliation and for retries
   * long after Xero's idempotency window: `GET ManualJournals?where=Narration.Contains("[key]")`.
   */
  async findJournal(grant: Grant, tenantId: string, idempotencyKey: string): Promise<string | null> {
    if (!/^[A-Za-z0-9_.:-]+$/.test(idempotencyKey)) throw booksError(BooksReason.INVALID_SOURCE_ID, 'not an idempotency key');
    let tokens = await this.keeper.current(grant);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const permit = await this.limiter.acquire(tenantId);
      try {
        const api = new AccountingApi(`${this.apiBase}/api.xro/2.0`);
        api.accessToken = tokens.accessToken;
        const res = await this.withTimeout(api.getManualJournals(tenantId, undefined, `Narration.Contains("[${idempotencyKey}]")`));
        const found = (res.body.manualJournals ?? []).find((j) => j.narration.includes(`[${idempotencyKey}]`) && j.status !== ManualJournal.StatusEnum.DELETED && j.status !== ManualJournal.StatusEnum.VOIDED);
        return found?.manualJournalID ?? null;
      } catch (err) {
        const f = sdkFailure(err);
        if (f.statusCode === 401 && attempt === 1) {
          tokens = await this.keeper.afterRejected(grant, tokens);
          continue;
        }
        if (f.statusCode === 403) throw booksError(BooksReason.NOT_CONNECTED, 'this Xero organisation is not connected to Liquid ABT', { tenantId });
        throw booksError(f.statusCode === 429 ? BooksReason.RATE_LIMITED : BooksReason.PROVIDER_UNAVAILABLE, `Xero lookup failed (HTTP ${f.statusCode})`);
      } finally {
        permit.release();
      }
    }
    throw booksError(BooksReason.RECONNECT_REQUIRED, 'Xero refused a freshly refreshed token; connect again');
  }
}
