import { BooksReason, booksError } from './errors';

/**
 * OAuth token sets and where they live. A grant (one consent) holds one rotating refresh token, so
 * every refresh for a grant must go through one place: a refresh that raced another would present
 * a refresh token the provider has already rotated away and lose the connection.
 */

export type OAuthTokens = {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  /** When this refresh token was issued: Xero's expire 60 days after issue if unused. */
  refreshTokenIssuedAt: Date;
  scopes: string[];
};

/**
 * Storage of one grant's tokens. The platform's implementation seals them with the key ring and
 * compares `previous` (compare-and-set) so two processes cannot both store a rotation.
 */
export type TokenStore = {
  load(): Promise<OAuthTokens | null>;
  save(next: OAuthTokens, previous: OAuthTokens | null): Promise<void>;
  clear(): Promise<void>;
};

export type Grant = { id: string; tokens: TokenStore };

export class InMemoryTokenStore implements TokenStore {
  private value: OAuthTokens | null;
  constructor(initial: OAuthTokens | null = null) {
    this.value = initial;
  }
  load(): Promise<OAuthTokens | null> {
    return Promise.resolve(this.value);
  }
  save(next: OAuthTokens, previous: OAuthTokens | null): Promise<void> {
    if ((this.value?.refreshToken ?? null) !== (previous?.refreshToken ?? null)) return Promise.reject(new Error('token store changed underneath (concurrent rotation)'));
    this.value = next;
    return Promise.resolve();
  }
  clear(): Promise<void> {
    this.value = null;
    return Promise.resolve();
  }
}

export type RefreshFn = (refreshToken: string) => Promise<OAuthTokens>;

/** Hands out a usable access token per grant, refreshing early and at most once at a time per grant. */
export class TokenKeeper {
  private readonly inflight = new Map<string, Promise<OAuthTokens>>();

  constructor(
    private readonly refresh: RefreshFn,
    private readonly now: () => number,
    private readonly opts: { earlyRefreshMs: number; refreshTokenLifetimeMs?: number },
  ) {}

  private async loaded(grant: Grant): Promise<OAuthTokens> {
    const tokens = await grant.tokens.load();
    if (!tokens) throw booksError(BooksReason.NOT_CONNECTED, 'this ledger is not connected', { grantId: grant.id });
    return tokens;
  }

  /** The stored token, refreshed first when it expires within `earlyRefreshMs`. */
  async current(grant: Grant): Promise<OAuthTokens> {
    const tokens = await this.loaded(grant);
    if (tokens.accessTokenExpiresAt.getTime() - this.opts.earlyRefreshMs > this.now()) return tokens;
    return this.rotate(grant, tokens);
  }

  /** After a 401: refresh unless another caller already replaced the token that was refused. */
  async afterRejected(grant: Grant, refused: OAuthTokens): Promise<OAuthTokens> {
    const tokens = await this.loaded(grant);
    if (tokens.accessToken !== refused.accessToken) return tokens;
    return this.rotate(grant, tokens);
  }

  private rotate(grant: Grant, tokens: OAuthTokens): Promise<OAuthTokens> {
    const running = this.inflight.get(grant.id);
    if (running) return running;
    const p = (async () => {
      const life = this.opts.refreshTokenLifetimeMs;
      if (life !== undefined && tokens.refreshTokenIssuedAt.getTime() + life <= this.now()) {
        throw booksError(BooksReason.RECONNECT_REQUIRED, 'the connection expired after going unused; connect again', { grantId: grant.id });
      }
      const next = await this.refresh(tokens.refreshToken);
      await grant.tokens.save(next, tokens);
      return next;
    })().finally(() => this.inflight.delete(grant.id));
    this.inflight.set(grant.id, p);
    return p;
  }
}
