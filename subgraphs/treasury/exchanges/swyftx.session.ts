/**
 * One Swyftx API session (https://docs.swyftx.com.au), shared by the order client and the
 * withdrawal rail so that authentication, its token cache and Swyftx's error format live in one place.
 *
 * Auth: `POST /auth/refresh/ {apiKey}` → `{accessToken}` (a JWT), sent as `Authorization: Bearer`.
 * The token is cached until a minute before its `exp` (10 minutes when `exp` is unreadable), one
 * refresh runs at a time (concurrent callers share it), and a 401 renews it once: a 401 means
 * Swyftx did nothing, so the retry cannot double an order or a withdrawal.
 * Swyftx sends money as JSON numbers; bodies are parsed losslessly (numbers kept as their text).
 */
import { z } from 'zod';
import type { JsonValue } from '../../../lib/money';
import { errorForStatus, invalidResponse, parseBody, sendHttp, type FetchLike, type HttpResponse } from './exchange-http';
import { safeExchangeText, type ExchangeError } from './exchange.types';

const SWYFTX_DEFAULT_BASE_URL = 'https://api.swyftx.com.au';

const TokenResponse = z.object({ accessToken: z.string().min(1) });
const ErrorBody = z.object({
  error: z.union([z.string(), z.object({ error: z.string().optional(), message: z.string().optional() })]),
  message: z.string().optional(),
});

export type SwyftxSessionOptions = {
  apiKey: string;
  baseUrl?: string;
  timeoutMs?: number;
  now?: () => Date;
  fetchImpl?: FetchLike;
};

export type SwyftxCall = {
  /** A call that changes state on Swyftx: its failures may leave the outcome unknown. */
  mutation?: boolean;
  /** Answer `null` for a 404 instead of failing. */
  allowNotFound?: boolean;
};

export class SwyftxSession {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private token: { value: string; refreshAtMs: number } | null = null;
  private refreshing: Promise<string> | null = null;

  constructor(private readonly opts: SwyftxSessionOptions) {
    if (!opts.apiKey) throw new Error('swyftx: apiKey is required');
    this.baseUrl = (opts.baseUrl ?? SWYFTX_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.now = opts.now ?? (() => new Date());
  }

  /** An unauthenticated GET (market data). */
  async publicGet(path: string): Promise<JsonValue> {
    const res = await this.send('GET', path, undefined, {}, false);
    if (res.status < 200 || res.status >= 300) throw this.httpError(res, false);
    return parseBody('swyftx', res, false);
  }

  /** A bearer-authenticated call; a 401 renews the token once. */
  async authed(method: 'GET' | 'POST', path: string, body: string | undefined, call: SwyftxCall & { allowNotFound: true }): Promise<JsonValue | null>;
  async authed(method: 'GET' | 'POST', path: string, body: string | undefined, call?: SwyftxCall): Promise<JsonValue>;
  async authed(method: 'GET' | 'POST', path: string, body: string | undefined, call: SwyftxCall = {}): Promise<JsonValue | null> {
    const mutation = call.mutation ?? false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      const headers = { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
      const res = await this.send(method, path, body, headers, mutation);
      if (res.status === 401 && attempt === 0) {
        this.token = null;
        continue;
      }
      if (res.status === 404 && call.allowNotFound) return null;
      if (res.status < 200 || res.status >= 300) throw this.httpError(res, mutation);
      return parseBody('swyftx', res, mutation);
    }
  }

  private send(method: 'GET' | 'POST', path: string, body: string | undefined, headers: Record<string, string>, mutation: boolean): Promise<HttpResponse> {
    return sendHttp({
      exchange: 'swyftx',
      url: this.baseUrl + path,
      method,
      headers,
      body,
      timeoutMs: this.timeoutMs,
      mutation,
      fetchImpl: this.opts.fetchImpl,
    });
  }

  /** The current bearer token, refreshing it when due (health checks use it to prove the key works). */
  accessToken(): Promise<string> {
    if (this.token && this.now().getTime() < this.token.refreshAtMs) return Promise.resolve(this.token.value);
    this.refreshing ??= this.refreshToken().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refreshToken(): Promise<string> {
    const res = await this.send('POST', '/auth/refresh/', JSON.stringify({ apiKey: this.opts.apiKey }), { 'Content-Type': 'application/json' }, false);
    if (res.status < 200 || res.status >= 300) throw this.httpError(res, false);
    const parsed = TokenResponse.safeParse(parseBody('swyftx', res, false));
    if (!parsed.success) throw invalidResponse('swyftx', 'token response has no accessToken', false);
    const value = parsed.data.accessToken;
    this.token = { value, refreshAtMs: this.refreshAt(value) };
    return value;
  }

  /** A minute before the JWT's `exp`; after 10 minutes if `exp` is unreadable. */
  private refreshAt(jwt: string): number {
    try {
      const payload: unknown = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
      const exp = typeof payload === 'object' && payload !== null ? (payload as { exp?: unknown }).exp : undefined;
      if (typeof exp === 'number' && Number.isFinite(exp)) return exp * 1000 - 60_000;
    } catch {
      // unreadable exp: the default lifetime
    }
    return this.now().getTime() + 10 * 60_000;
  }

  /** Swyftx's error body (`{error, message}` or `{error: {error, message}}`), with the key and token scrubbed. */
  private httpError(res: HttpResponse, mutation: boolean): ExchangeError {
    let detail = '';
    try {
      const parsed = ErrorBody.safeParse(JSON.parse(res.text));
      if (parsed.success) {
        const e = parsed.data.error;
        detail = typeof e === 'string' ? [e, parsed.data.message].filter(Boolean).join(': ') : [e.error, e.message].filter(Boolean).join(': ');
      }
    } catch {
      // non-JSON error body: the status says enough
    }
    return errorForStatus('swyftx', res.status, mutation, safeExchangeText(detail, [this.opts.apiKey, this.token?.value ?? '']));
  }
}
