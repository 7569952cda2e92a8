import { randomBytes } from 'node:crypto';
import { AppError } from '../../../lib/errors';
import { currentCorrelationId } from '../../../lib/logger';
import { CORRELATION_ATTRIBUTE, traceOutgoing } from '../../../lib/tracing';
import { BooksReason, booksError } from './errors';
import { assertBalanced, centsToWireNumber, journalNumberFor, type Journal } from './journal';
import { DEFAULT_RETRY, InMemoryRateLimiter, MYOB_API_KEY_LIMITS, backoffDelayMs, systemClock, type Clock, type RateLimiter, type RetryPolicy } from './limiter';
import { TokenKeeper, type Grant, type OAuthTokens } from './tokens';
import type { PostedJournal } from './xero.client';

/**
 * MYOB Business (AccountRight API v2) adapter over the documented HTTP API with fetch (MYOB ships no
 * Node SDK). OAuth 2.0 at secure.myob.com: consent `GET /oauth2/account/authorize` (with
 * prompt=consent the redirect carries the company file's businessId), tokens at
 * `POST /oauth2/v1/authorize` (20-minute access tokens, refresh token returned on every refresh and
 * stored each time). Calls carry `Authorization: Bearer`, `x-myobapi-key`, `x-myobapi-version: v2`
 * and, only for company files that still use file credentials, `x-myobapi-cftoken`.
 *
 * MYOB has no Idempotency-Key. Exactly-once: the journal number (DisplayID, String(13)) is derived
 * from the idempotency key and the key itself ends the Memo; every attempt first looks the number up
 * (`$filter=DisplayID eq '…'`) and posts only if no journal with that number and key exists.
 */

export const MYOB_SECURE_BASE_URL = 'https://secure.myob.com';
export const MYOB_API_BASE_URL = 'https://api.myob.com';
/** Granular scopes for API keys created after 12 March 2025 (the only ones GeneralJournal needs). */
export const MYOB_DEFAULT_SCOPES = ['sme-company-file', 'sme-general-ledger'];
const ACCESS_TOKEN_SECONDS = 1200;

export type MyobClientOptions = {
  /** The API key (OAuth client_id, also sent as x-myobapi-key). */
  apiKey: string;
  apiSecret: string;
  redirectUri: string;
  scopes?: string[];
  secureBaseUrl?: string;
  apiBaseUrl?: string;
  clock?: Clock;
  random?: () => number;
  /** Per API key; default MYOB's 8 a second, 1,000,000 a day. */
  limiter?: RateLimiter;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
};

/** One connected company file. */
export type MyobCompanyFile = {
  businessId: string;
  /** Base64(user:password): only AccountRight desktop/legacy files with file sign-in; not MYOB Business online files. */
  cfToken?: string;
  /** TaxCode UID for lines whose role has no tax code in the mapping (e.g. the file's "N-T"). */
  defaultTaxCodeUid?: string;
};

export type MyobAuthorizationRequest = { url: string; state: string };
export type MyobConnectResult = { tokens: OAuthTokens; businessId: string; businessName: string | null };

type Sent = { status: number; headers: Headers; text: string };

type MyobErrorBody = { Errors?: Array<{ Name?: unknown; Message?: unknown }> };

/** A JSON scalar as text; anything else (absent, object) as ''. */
function scalarText(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

function myobErrors(text: string): Array<{ name: string; message: string }> {
  try {
    const body = JSON.parse(text) as MyobErrorBody;
    return (body.Errors ?? []).map((e) => ({ name: scalarText(e.Name), message: scalarText(e.Message) }));
  } catch {
    return [];
  }
}

export type MyobGeneralJournalBody = {
  DisplayID: string;
  DateOccurred: string;
  IsTaxInclusive: false;
  IsYearEndAdjustment: false;
  GSTReportingMethod: 'Purchase' | 'Sale';
  Memo: string;
  Lines: Array<{ Account: { UID: string }; Amount: number; IsCredit: boolean; Memo: string; TaxCode: { UID: string } }>;
};

/** Memo String(255) keeps its last part, the `[key]` the lookup checks. */
function memoOf(journal: Journal): string {
  const tag = `[${journal.idempotencyKey}]`;
  if (journal.narration.length <= 255) return journal.narration.includes(tag) ? journal.narration : `${journal.narration.slice(0, 254 - tag.length)} ${tag}`;
  return `${journal.narration.slice(0, 254 - tag.length)} ${tag}`;
}

export function myobGeneralJournalOf(journal: Journal, file: MyobCompanyFile): MyobGeneralJournalBody {
  return {
    DisplayID: journalNumberFor(journal.idempotencyKey),
    DateOccurred: `${journal.date}T00:00:00`,
    IsTaxInclusive: false,
    IsYearEndAdjustment: false,
    GSTReportingMethod: journal.source.kind === 'FILL' ? 'Purchase' : 'Sale',
    Memo: memoOf(journal),
    Lines: journal.lines.map((l) => {
      const tax = l.taxType ?? file.defaultTaxCodeUid;
      if (!tax) throw booksError(BooksReason.INVALID_MAPPING, `a MYOB tax code is needed for the ${l.role} line`, { field: `taxTypes.${l.role}` });
      return { Account: { UID: l.account }, Amount: centsToWireNumber(l.amountAudCents), IsCredit: l.side === 'CREDIT', Memo: l.description.slice(0, 255), TaxCode: { UID: tax } };
    }),
  };
}

/** `server.address`/`server.port` of a base URL for a span; none when it does not parse. */
function hostAttributes(base: string): { 'server.address'?: string; 'server.port'?: number } {
  try {
    const u = new URL(base);
    return { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
  } catch {
    return {};
  }
}

export class MyobBooksClient {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly limiter: RateLimiter;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly scopes: string[];
  private readonly secureBase: string;
  private readonly apiBase: string;
  private readonly keeper: TokenKeeper;

  constructor(private readonly opts: MyobClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.limiter = opts.limiter ?? new InMemoryRateLimiter(MYOB_API_KEY_LIMITS, this.clock);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.scopes = opts.scopes ?? MYOB_DEFAULT_SCOPES;
    this.secureBase = (opts.secureBaseUrl ?? MYOB_SECURE_BASE_URL).replace(/\/+$/, '');
    this.apiBase = (opts.apiBaseUrl ?? MYOB_API_BASE_URL).replace(/\/+$/, '');
    this.keeper = new TokenKeeper((rt) => this.refreshTokens(rt), () => this.clock.now(), { earlyRefreshMs: 60_000 });
  }

  /** prompt=consent: MYOB returns the chosen company file's businessId only then. */
  authorizationRequest(): MyobAuthorizationRequest {
    const state = randomBytes(24).toString('base64url');
    const q = new URLSearchParams({ client_id: this.opts.apiKey, redirect_uri: this.opts.redirectUri, response_type: 'code', scope: this.scopes.join(' '), state, prompt: 'consent' });
    return { url: `${this.secureBase}/oauth2/account/authorize?${q.toString()}`, state };
  }

  async completeAuthorization(callbackUrl: string, pending: { state: string }): Promise<MyobConnectResult> {
    const q = new URL(callbackUrl).searchParams;
    if (q.get('state') !== pending.state) throw booksError(BooksReason.OAUTH_STATE_MISMATCH, 'the authorisation response does not belong to this connection attempt');
    if (q.get('error')) throw booksError(BooksReason.OAUTH_DENIED, 'the MYOB user did not allow the connection');
    const code = q.get('code');
    const businessId = q.get('businessId');
    if (!code || !businessId) throw booksError(BooksReason.OAUTH_DENIED, 'MYOB did not say which company file was connected');
    const tokens = await this.tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: this.opts.redirectUri, scope: this.scopes.join(' ') });
    return { tokens, businessId, businessName: q.get('businessName') };
  }

  async refreshTokens(refreshToken: string): Promise<OAuthTokens> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  private async tokenRequest(params: Record<string, string>): Promise<OAuthTokens> {
    let res: Response;
    try {
      res = await fetch(`${this.secureBase}/oauth2/v1/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ client_id: this.opts.apiKey, client_secret: this.opts.apiSecret, ...params }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'MYOB sign-in is unreachable');
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; refresh_token?: string; expires_in?: string | number; scope?: string; error?: string };
    if (res.status === 400 && body.error === 'invalid_grant') throw booksError(BooksReason.RECONNECT_REQUIRED, 'MYOB no longer accepts this authorisation; connect again');
    if (!res.ok || !body.access_token || !body.refresh_token) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, `MYOB refused the token request (${body.error ?? `HTTP ${res.status}`})`);
    const now = this.clock.now();
    const seconds = Number(body.expires_in ?? ACCESS_TOKEN_SECONDS);
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      accessTokenExpiresAt: new Date(now + (Number.isFinite(seconds) ? seconds : ACCESS_TOKEN_SECONDS) * 1000),
      refreshTokenIssuedAt: new Date(now),
      scopes: (body.scope ?? this.scopes.join(' ')).split(' ').filter(Boolean),
    };
  }

  /** MYOB documents no revocation endpoint: disconnecting forgets the tokens; the owner removes the app in my.MYOB. */
  async disconnect(grant: Grant): Promise<void> {
    await grant.tokens.clear();
  }

  private async send(tokens: OAuthTokens, file: MyobCompanyFile, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Sent | null> {
    // A CLIENT span `myob <METHOD> <resource>`: the path without the company file, query ($filter holds
    // the journal's number) or body; no token or API key. No traceparent goes to MYOB (a third party).
    const [resource = ''] = path.split('?');
    const correlationId = currentCorrelationId();
    const attributes = {
      'abt.books.provider': 'myob',
      'abt.books.operation': `${method} ${resource}`,
      'http.request.method': method,
      ...hostAttributes(this.apiBase),
      ...(correlationId ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}),
    };
    const permit = await this.limiter.acquire(this.opts.apiKey);
    try {
      return await traceOutgoing(`myob ${method} ${resource}`, attributes, () => this.roundTrip(tokens, file, method, path, body), (sent) => sent.status);
    } catch {
      return null; // No answer (an error span): the request may or may not have been applied.
    } finally {
      permit.release();
    }
  }

  /** One HTTP exchange with the AccountRight API; throws when no answer came. */
  private async roundTrip(tokens: OAuthTokens, file: MyobCompanyFile, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Sent> {
    try {
      const res = await fetch(`${this.apiBase}/accountright/${encodeURIComponent(file.businessId)}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens.accessToken}`,
          'x-myobapi-key': this.opts.apiKey,
          'x-myobapi-version': 'v2',
          accept: 'application/json',
          ...(file.cfToken ? { 'x-myobapi-cftoken': file.cfToken } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { status: res.status, headers: res.headers, text: await res.text() };
    } catch {
      throw new Error('MYOB did not answer');
    }
  }

  /** Turns an answer into a typed refusal, or `retry` for transient trouble (after the wait it needs). */
  private async classify(sent: Sent | null, attempt: number, key: string): Promise<'retry' | 'rate-limited' | 'unauthorized'> {
    if (sent === null || sent.status >= 500) {
      await this.clock.sleep(backoffDelayMs(attempt, this.retry, this.random));
      return 'retry';
    }
    const errs = myobErrors(sent.text);
    if (sent.status === 401) return 'unauthorized';
    if (sent.status === 403 && errs.some((e) => e.name === 'RateLimitError')) {
      if (errs.some((e) => /daily/i.test(e.message))) throw booksError(BooksReason.DAILY_LIMIT_REACHED, 'MYOB API key has used its daily limit', { retryAfterMs: 3_600_000 });
      // The per-second limit: hold every caller of this API key back for a second.
      this.limiter.observe(this.opts.apiKey, { retryAfterMs: Math.max(1000, backoffDelayMs(attempt, this.retry, this.random)) });
      return 'rate-limited';
    }
    if (sent.status === 403) throw booksError(BooksReason.PROVIDER_FORBIDDEN, 'MYOB refused access to the company file', { names: errs.map((e) => e.name) });
    if (sent.status === 400) throw booksError(BooksReason.PROVIDER_VALIDATION, 'MYOB refused the journal', { messages: errs.map((e) => e.message), idempotencyKey: key });
    throw booksError(BooksReason.PROVIDER_UNAVAILABLE, `MYOB answered HTTP ${sent.status}`, { httpStatus: sent.status });
  }

  private async lookup(tokens: OAuthTokens, file: MyobCompanyFile, journal: Pick<Journal, 'idempotencyKey'>): Promise<Sent | null> {
    const filter = encodeURIComponent(`DisplayID eq '${journalNumberFor(journal.idempotencyKey)}'`);
    return this.send(tokens, file, 'GET', `/GeneralLedger/GeneralJournal?$filter=${filter}`);
  }

  private found(sent: Sent, key: string): string | null {
    const body = JSON.parse(sent.text) as { Items?: Array<{ UID?: unknown; Memo?: unknown }> };
    const hit = (body.Items ?? []).find((j) => typeof j.Memo === 'string' && j.Memo.includes(`[${key}]`));
    return hit && typeof hit.UID === 'string' ? hit.UID : null;
  }

  /** The journal's UID if it is already in the file (the lookup every attempt makes first). */
  async findJournal(grant: Grant, file: MyobCompanyFile, idempotencyKey: string): Promise<string | null> {
    return this.run<string | null>(grant, file, idempotencyKey, async (tokens) => {
      const sent = await this.lookup(tokens, file, { idempotencyKey });
      return sent?.status === 200 ? { done: this.found(sent, idempotencyKey) } : { sent };
    });
  }

  /** Looks up, then posts if absent; on a lost answer the next attempt's lookup finds what was stored. */
  async postJournal(grant: Grant, file: MyobCompanyFile, journal: Journal): Promise<PostedJournal> {
    assertBalanced(journal);
    const body = myobGeneralJournalOf(journal, file);
    let requests = 0;
    const uid = await this.run<string>(grant, file, journal.idempotencyKey, async (tokens) => {
      requests += 1;
      const looked = await this.lookup(tokens, file, journal);
      if (looked?.status !== 200) return { sent: looked };
      const existing = this.found(looked, journal.idempotencyKey);
      if (existing) return { done: existing };
      requests += 1;
      const posted = await this.send(tokens, file, 'POST', '/GeneralLedger/GeneralJournal', body);
      if (posted?.status === 201) {
        const location = posted.headers.get('location') ?? '';
        const id = /\/GeneralJournal\/([0-9a-fA-F-]{36})\/?$/.exec(location)?.[1];
        if (!id) throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'MYOB created the journal but answered without its Location');
        return { done: id };
      }
      return { sent: posted };
    });
    return { provider: 'MYOB', idempotencyKey: journal.idempotencyKey, externalId: uid, attempts: requests };
  }

  /** The retry loop both calls share: refresh once on 401, back off on 5xx / no answer / per-second limit. */
  private async run<T>(grant: Grant, file: MyobCompanyFile, key: string, step: (tokens: OAuthTokens) => Promise<{ done: T } | { sent: Sent | null }>): Promise<T> {
    let tokens = await this.keeper.current(grant);
    let refreshed = false;
    let rateLimited = false;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      let outcome: { done: T } | { sent: Sent | null };
      try {
        outcome = await step(tokens);
      } catch (err) {
        if (err instanceof AppError) throw err;
        outcome = { sent: null };
      }
      if ('done' in outcome) return outcome.done;
      if (attempt === this.retry.maxAttempts && (outcome.sent === null || outcome.sent.status >= 500)) break;
      const verdict = await this.classify(outcome.sent, attempt, key);
      rateLimited = verdict === 'rate-limited';
      if (verdict === 'unauthorized') {
        if (refreshed) throw booksError(BooksReason.RECONNECT_REQUIRED, 'MYOB refused a freshly refreshed token; connect again');
        tokens = await this.keeper.afterRejected(grant, tokens);
        refreshed = true;
        attempt -= 1;
      }
    }
    if (rateLimited) throw booksError(BooksReason.RATE_LIMITED, 'MYOB kept refusing over its per-second limit', { idempotencyKey: key, retryAfterMs: 1000 });
    throw booksError(BooksReason.PROVIDER_UNAVAILABLE, 'MYOB did not answer after retries', { idempotencyKey: key, businessId: file.businessId });
  }
}
