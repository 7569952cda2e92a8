import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { open, seal, type KeyRing } from '../../../lib/crypto/secret-box';
import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { ACCOUNTING_FILL_JOB, TaxAcquisitionFactV1, type TaxAcquisitionFact } from '../../../lib/events/tax-facts';
import { log } from '../../../lib/logger';
import { DEFAULT_TIME_ZONE } from '../tax/tax-calendar';
import { loadProfile } from '../tax/tax.store';
import { BooksReason, booksError, booksReasonOf, isRetryableBooksError } from './errors';
import { assertAccountMapping, fillIdempotencyKey, journalForFill, journalTotals, type AccountMapping } from './journal';
import type { LedgerClients } from './ledger-clients';
import type { MyobBooksClient } from './myob.client';
import type { Grant, OAuthTokens, TokenStore } from './tokens';
import type { PostedJournal, XeroBooksClient } from './xero.client';

/**
 * The wiring of the books adapters: ledger connections (OAuth, tokens sealed with the key ring),
 * account mappings, and the `accounting` job that posts each fill's journal to every connected
 * ledger exactly once (journal_post: one row per source event and connection; the adapters are
 * exactly-once per idempotency key, so a retried job or a manual retry never posts twice).
 */

export const ACCOUNTING_QUEUE = 'accounting' as const;
export { ACCOUNTING_FILL_JOB };
export const ACCOUNTING_RETRY_JOB = 'accounting.retry' as const;

export type LedgerProvider = 'XERO' | 'MYOB';
export const LEDGER_PROVIDERS: readonly LedgerProvider[] = ['XERO', 'MYOB'];
export type ConnectionStatus = 'ACTIVE' | 'RECONNECT_REQUIRED' | 'DISCONNECTED';
export type JournalPostStatus = 'PENDING' | 'POSTED' | 'FAILED';

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'now' | 'audit' | 'outbox'>;
type RunTx = <T>(fn: (tx: TenantTx) => Promise<T>) => Promise<T>;

/** A deterministic job/outbox id (UUID v5 layout of SHA-256 over the name and the source id). */
export function accountingJobId(jobName: string, sourceId: string): string {
  const h = createHash('sha256').update(`${jobName}:${sourceId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const OAUTH_STATE_TTL_MS = 10 * 60_000;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const grantAad = (tenantId: string, grantId: string): string => `ledger_grant:${tenantId}:${grantId}`;
const cfAad = (tenantId: string, connectionId: string): string => `ledger_connection.cf_token:${tenantId}:${connectionId}`;
const stateAad = (tenantId: string, stateHash: string): string => `ledger_oauth_state:${tenantId}:${stateHash}`;

// ---- tokens at rest -------------------------------------------------------------------------

const StoredTokens = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  accessTokenExpiresAt: z.string(),
  refreshTokenIssuedAt: z.string(),
  scopes: z.array(z.string()),
});

const sealTokens = (ring: KeyRing, tenantId: string, grantId: string, t: OAuthTokens): string =>
  seal(
    ring,
    JSON.stringify({ ...t, accessTokenExpiresAt: t.accessTokenExpiresAt.toISOString(), refreshTokenIssuedAt: t.refreshTokenIssuedAt.toISOString() }),
    grantAad(tenantId, grantId),
  );

function openTokens(ring: KeyRing, tenantId: string, grantId: string, sealed: string): OAuthTokens {
  const t = StoredTokens.parse(JSON.parse(open(ring, sealed, grantAad(tenantId, grantId))));
  return { ...t, accessTokenExpiresAt: new Date(t.accessTokenExpiresAt), refreshTokenIssuedAt: new Date(t.refreshTokenIssuedAt) };
}

/** A grant's tokens in ledger_grant, sealed; `save` compares and sets under a row lock so two workers cannot both store a rotation. */
export class SealedTokenStore implements TokenStore {
  constructor(
    private readonly run: RunTx,
    private readonly ring: KeyRing,
    private readonly tenantId: string,
    private readonly grantId: string,
  ) {}

  load(): Promise<OAuthTokens | null> {
    return this.run(async (tx) => {
      const [r] = await tx.em.execute<{ tokens_sealed: string | null }[]>(`select tokens_sealed from ledger_grant where id = ?`, [this.grantId]);
      return r?.tokens_sealed ? openTokens(this.ring, this.tenantId, this.grantId, r.tokens_sealed) : null;
    });
  }

  save(next: OAuthTokens, previous: OAuthTokens | null): Promise<void> {
    return this.run(async (tx) => {
      const [r] = await tx.em.execute<{ tokens_sealed: string | null }[]>(`select tokens_sealed from ledger_grant where id = ? for update`, [this.grantId]);
      if (!r) throw notFound('ledger grant');
      const current = r.tokens_sealed ? openTokens(this.ring, this.tenantId, this.grantId, r.tokens_sealed) : null;
      if ((current?.refreshToken ?? null) !== (previous?.refreshToken ?? null)) throw new Error('ledger tokens changed underneath (concurrent rotation)');
      await tx.em.execute(`update ledger_grant set tokens_sealed = ?, version = version + 1, updated_at = ? where id = ?`, [
        sealTokens(this.ring, this.tenantId, this.grantId, next),
        tx.now,
        this.grantId,
      ]);
    });
  }

  clear(): Promise<void> {
    return this.run(async (tx) => {
      await tx.em.execute(`update ledger_grant set tokens_sealed = null, version = version + 1, updated_at = ? where id = ?`, [tx.now, this.grantId]);
    });
  }
}

// ---- connections ----------------------------------------------------------------------------

export type LedgerConnectionRow = {
  id: string;
  provider: LedgerProvider;
  grantId: string;
  externalId: string;
  providerConnectionId: string | null;
  name: string | null;
  status: ConnectionStatus;
  mapping: AccountMapping | null;
  defaultTaxCode: string | null;
  createdAt: Date;
};

type ConnectionDb = {
  id: string;
  provider: LedgerProvider;
  grant_id: string;
  external_id: string;
  provider_connection_id: string | null;
  name: string | null;
  status: ConnectionStatus;
  cf_token_sealed: string | null;
  mapping: AccountMapping | null;
  default_tax_code: string | null;
  created_at: Date;
};

const CONNECTION_COLUMNS = `c.id, c.provider, c.grant_id, c.external_id, c.provider_connection_id, c.name, c.status, c.cf_token_sealed, m.mapping, m.default_tax_code, c.created_at`;
const CONNECTION_FROM = `ledger_connection c left join account_mapping m on m.connection_id = c.id`;

const toConnection = (r: ConnectionDb): LedgerConnectionRow => ({
  id: r.id,
  provider: r.provider,
  grantId: r.grant_id,
  externalId: r.external_id,
  providerConnectionId: r.provider_connection_id,
  name: r.name,
  status: r.status,
  mapping: r.mapping,
  defaultTaxCode: r.default_tax_code,
  createdAt: new Date(r.created_at),
});

const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export async function listConnections(tx: Pick<Tx, 'em'>): Promise<LedgerConnectionRow[]> {
  return (await tx.em.execute<ConnectionDb[]>(`select ${CONNECTION_COLUMNS} from ${CONNECTION_FROM} order by c.created_at, c.id`)).map(toConnection);
}

async function connectionDb(tx: Pick<Tx, 'em'>, id: string, lock = false): Promise<ConnectionDb | null> {
  if (!isUuid(id)) return null;
  const [r] = await tx.em.execute<ConnectionDb[]>(`select ${CONNECTION_COLUMNS} from ${CONNECTION_FROM} where c.id = ?${lock ? ' for update of c' : ''}`, [id]);
  return r ?? null;
}

export async function findConnection(tx: Pick<Tx, 'em'>, id: string): Promise<LedgerConnectionRow | null> {
  const r = await connectionDb(tx, id);
  return r ? toConnection(r) : null;
}

function notConfigured(provider: LedgerProvider): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, `${provider === 'XERO' ? 'Xero' : 'MYOB'} is not configured on this platform`, { reason: 'PROVIDER_NOT_CONFIGURED' });
}

/** Step 1 of connecting: where to send the browser. The state (hashed) and the PKCE verifier (sealed) stay here, bound to the user. */
export async function startLedgerConnection(tx: Tx, ring: KeyRing, clients: LedgerClients, userId: string, provider: LedgerProvider): Promise<{ authorizationUrl: string; expiresAt: Date }> {
  let url: string;
  let state: string;
  let verifier: string | null = null;
  if (provider === 'XERO') {
    if (!clients.xero) throw notConfigured(provider);
    const r = clients.xero.authorizationRequest();
    ({ url, state } = r);
    verifier = r.codeVerifier;
  } else {
    if (!clients.myob) throw notConfigured(provider);
    ({ url, state } = clients.myob.authorizationRequest());
  }
  const hash = sha256(state);
  const expiresAt = new Date(tx.now.getTime() + OAUTH_STATE_TTL_MS);
  await tx.em.execute(`delete from ledger_oauth_state where expires_at < ?`, [tx.now]);
  await tx.em.execute(`insert into ledger_oauth_state (state_hash, provider, verifier_sealed, user_id, expires_at) values (?, ?, ?, ?, ?)`, [
    hash,
    provider,
    verifier === null ? null : seal(ring, verifier, stateAad(tx.tenantId, hash)),
    userId,
    expiresAt,
  ]);
  return { authorizationUrl: url, expiresAt };
}

function oauthStateMismatch(): AppError {
  return booksError(BooksReason.OAUTH_STATE_MISMATCH, 'the authorisation response does not belong to a connection attempt of yours (or it expired)');
}

/**
 * Step 2: the provider redirected back (`callbackUrl` is the full redirect URL). Consumes the state
 * (one use, same user, not expired), exchanges the code, stores the grant and one connection per
 * organisation / company file. Nothing is stored when any step fails.
 */
export async function completeLedgerConnection(run: RunTx, ring: KeyRing, clients: LedgerClients, userId: string, callbackUrl: string): Promise<LedgerConnectionRow[]> {
  let state: string | null;
  try {
    state = new URL(callbackUrl).searchParams.get('state');
  } catch {
    throw badInput('callbackUrl is not a URL', 'callbackUrl');
  }
  if (!state) throw badInput('callbackUrl has no state', 'callbackUrl');
  const hash = sha256(state);
  const pending = await run(async (tx) => {
    const [r] = await tx.em.execute<{ provider: LedgerProvider; verifier_sealed: string | null; user_id: string | null; expires_at: Date }[]>(
      `delete from ledger_oauth_state where state_hash = ? returning provider, verifier_sealed, user_id, expires_at`,
      [hash],
    );
    if (!r || r.user_id !== userId || new Date(r.expires_at) < tx.now) return null;
    return { provider: r.provider, verifier: r.verifier_sealed === null ? null : open(ring, r.verifier_sealed, stateAad(tx.tenantId, hash)) };
  });
  if (!pending) throw oauthStateMismatch();

  type Found = { externalId: string; providerConnectionId: string | null; name: string | null };
  let tokens: OAuthTokens;
  let found: Found[];
  if (pending.provider === 'XERO') {
    if (!clients.xero || pending.verifier === null) throw notConfigured('XERO');
    const r = await clients.xero.completeAuthorization(callbackUrl, { state, codeVerifier: pending.verifier });
    tokens = r.tokens;
    found = r.connections.map((c) => ({ externalId: c.tenantId, providerConnectionId: c.id, name: c.tenantName }));
  } else {
    if (!clients.myob) throw notConfigured('MYOB');
    const r = await clients.myob.completeAuthorization(callbackUrl, { state });
    tokens = r.tokens;
    found = [{ externalId: r.businessId, providerConnectionId: null, name: r.businessName }];
  }
  const provider = pending.provider;
  return run(async (tx) => {
    const grantId = randomUUID();
    await tx.em.execute(`insert into ledger_grant (id, provider, tokens_sealed, created_at, updated_at) values (?, ?, ?, ?, ?)`, [
      grantId,
      provider,
      sealTokens(ring, tx.tenantId, grantId, tokens),
      tx.now,
      tx.now,
    ]);
    const ids: string[] = [];
    for (const f of found) {
      // Connecting again (a new consent) moves the organisation onto the new grant and reactivates it.
      const [row] = await tx.em.execute<{ id: string }[]>(
        `insert into ledger_connection (id, provider, grant_id, external_id, provider_connection_id, name, status, connected_by, created_at, updated_at)
           values (?, ?, ?, ?, ?, ?, 'ACTIVE', ?, ?, ?)
         on conflict (tenant_id, provider, external_id) do update
           set grant_id = excluded.grant_id, provider_connection_id = excluded.provider_connection_id, name = excluded.name, status = 'ACTIVE', updated_at = excluded.updated_at
         returning id`,
        [randomUUID(), provider, grantId, f.externalId, f.providerConnectionId, f.name, userId, tx.now, tx.now],
      );
      if (row) ids.push(row.id);
    }
    await tx.audit({ eventType: 'books.ledger_connected', actorId: userId, subjectType: 'ledger_grant', subjectId: grantId, data: { provider, connections: ids } });
    const all = await listConnections(tx);
    return all.filter((c) => ids.includes(c.id));
  });
}

const MappingInput = z.object({
  digitalAsset: z.string().trim().min(1).max(100),
  exchangeClearing: z.string().trim().min(1).max(100),
  feesExpense: z.string().trim().min(1).max(100),
  realisedGain: z.string().trim().min(1).max(100),
  realisedLoss: z.string().trim().min(1).max(100),
  feeTreatment: z.enum(['COST_BASE', 'EXPENSE']).optional(),
  gstOnFees: z.string().trim().min(1).max(100).optional(),
});
export type MappingInput = z.infer<typeof MappingInput> & { defaultTaxCode?: string };

/** The tenant's accounts for one connection. BAD_USER_INPUT INVALID_MAPPING (nothing written) when incomplete or contradictory. */
export async function setAccountMapping(tx: Tx, userId: string, connectionId: string, input: MappingInput): Promise<LedgerConnectionRow> {
  const conn = await connectionDb(tx, connectionId, true);
  if (!conn) throw notFound('ledger connection');
  const parsed = MappingInput.safeParse(input);
  if (!parsed.success) throw booksError(BooksReason.INVALID_MAPPING, `account mapping: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')} missing or too long`);
  const d = parsed.data;
  const mapping = assertAccountMapping({
    digitalAsset: d.digitalAsset,
    exchangeClearing: d.exchangeClearing,
    feesExpense: d.feesExpense,
    realisedGain: d.realisedGain,
    realisedLoss: d.realisedLoss,
    ...(d.feeTreatment ? { feeTreatment: d.feeTreatment } : {}),
    ...(d.gstOnFees ? { gstOnFees: d.gstOnFees } : {}),
  });
  const taxCode = input.defaultTaxCode?.trim() || null;
  if (conn.provider === 'MYOB' && taxCode === null) {
    throw booksError(BooksReason.INVALID_MAPPING, 'a MYOB mapping needs defaultTaxCode (the UID of the file’s tax code for these lines, e.g. N-T)', { field: 'defaultTaxCode' });
  }
  await tx.em.execute(
    `insert into account_mapping (connection_id, mapping, default_tax_code, updated_by, updated_at) values (?, ?::jsonb, ?, ?, ?)
     on conflict (tenant_id, connection_id) do update set mapping = excluded.mapping, default_tax_code = excluded.default_tax_code, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    [connectionId, JSON.stringify(mapping), taxCode, userId, tx.now],
  );
  await tx.audit({ eventType: 'books.mapping_set', actorId: userId, subjectType: 'ledger_connection', subjectId: connectionId, data: { mapping } });
  const row = await findConnection(tx, connectionId);
  if (!row) throw notFound('ledger connection');
  return row;
}

/** Disconnects one organisation / company file (Xero: DELETE /connections, revoking with the last one). */
export async function disconnectLedger(run: RunTx, ring: KeyRing, clients: LedgerClients, userId: string, connectionId: string): Promise<LedgerConnectionRow> {
  const conn = await run((tx) => connectionDb(tx, connectionId));
  if (!conn) throw notFound('ledger connection');
  if (conn.status !== 'DISCONNECTED') {
    const tenantId = await run((tx) => Promise.resolve(tx.tenantId));
    const grant: Grant = { id: conn.grant_id, tokens: new SealedTokenStore(run, ring, tenantId, conn.grant_id) };
    try {
      if (conn.provider === 'XERO' && clients.xero && conn.provider_connection_id) await clients.xero.disconnect(grant, conn.provider_connection_id);
      if (conn.provider === 'MYOB' && clients.myob) await clients.myob.disconnect(grant);
    } catch (err) {
      // The provider may already have forgotten us (the user removed the app there): disconnect locally anyway.
      log().warn({ connectionId, reason: booksReasonOf(err) ?? 'unknown' }, 'ledger disconnect at the provider failed');
    }
  }
  return run(async (tx) => {
    await tx.em.execute(`update ledger_connection set status = 'DISCONNECTED', updated_at = ? where id = ?`, [tx.now, connectionId]);
    await tx.audit({ eventType: 'books.ledger_disconnected', actorId: userId, subjectType: 'ledger_connection', subjectId: connectionId, data: { provider: conn.provider } });
    const row = await findConnection(tx, connectionId);
    if (!row) throw notFound('ledger connection');
    return row;
  });
}

// ---- journal posts --------------------------------------------------------------------------

export type JournalPostRow = {
  id: string;
  connectionId: string;
  provider: LedgerProvider;
  sourceKind: 'FILL' | 'SALE';
  sourceId: string;
  idempotencyKey: string;
  status: JournalPostStatus;
  reason: string | null;
  messages: string[];
  attempts: number;
  retries: number;
  externalId: string | null;
  debitAudCents: bigint | null;
  createdAt: Date;
  updatedAt: Date;
  postedAt: Date | null;
};

type PostDb = {
  id: string;
  connection_id: string;
  provider: LedgerProvider;
  source_kind: 'FILL' | 'SALE';
  source_id: string;
  idempotency_key: string;
  status: JournalPostStatus;
  reason: string | null;
  messages: string[];
  attempts: number;
  retries: number;
  external_id: string | null;
  debit_aud_cents: string | null;
  source: unknown;
  created_at: Date;
  updated_at: Date;
  posted_at: Date | null;
};

const POST_COLUMNS = `id, connection_id, provider, source_kind, source_id, idempotency_key, status, reason, messages, attempts, retries, external_id,
  debit_aud_cents::text as debit_aud_cents, source, created_at, updated_at, posted_at`;

const toPost = (r: PostDb): JournalPostRow => ({
  id: r.id,
  connectionId: r.connection_id,
  provider: r.provider,
  sourceKind: r.source_kind,
  sourceId: r.source_id,
  idempotencyKey: r.idempotency_key,
  status: r.status,
  reason: r.reason,
  messages: r.messages,
  attempts: Number(r.attempts),
  retries: Number(r.retries),
  externalId: r.external_id,
  debitAudCents: r.debit_aud_cents === null ? null : BigInt(r.debit_aud_cents),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  postedAt: r.posted_at === null ? null : new Date(r.posted_at),
});

/** The reconciliation view: newest first, optionally one status. */
export async function listJournalPosts(tx: Pick<Tx, 'em'>, filter: { status?: JournalPostStatus; first?: number } = {}): Promise<JournalPostRow[]> {
  const limit = Math.min(Math.max(filter.first ?? 100, 1), 500);
  const rows = await tx.em.execute<PostDb[]>(
    `select ${POST_COLUMNS} from journal_post ${filter.status ? 'where status = ?' : ''} order by created_at desc, id limit ${limit}`,
    filter.status ? [filter.status] : [],
  );
  return rows.map(toPost);
}

export async function findJournalPost(tx: Pick<Tx, 'em'>, id: string): Promise<JournalPostRow | null> {
  if (!isUuid(id)) return null;
  const [r] = await tx.em.execute<PostDb[]>(`select ${POST_COLUMNS} from journal_post where id = ?`, [id]);
  return r ? toPost(r) : null;
}

/** Re-enqueues one post that is not POSTED (same idempotency key at the ledger, so never a second journal). */
export async function retryJournalPost(tx: Tx, userId: string, id: string): Promise<JournalPostRow> {
  if (!isUuid(id)) throw notFound('journal post');
  const [r] = await tx.em.execute<PostDb[]>(`select ${POST_COLUMNS} from journal_post where id = ? for update`, [id]);
  if (!r) throw notFound('journal post');
  if (r.status === 'POSTED') throw new AppError(ErrorCode.CONFLICT, 'this journal is already posted', { reason: 'ALREADY_POSTED' });
  const retries = Number(r.retries) + 1;
  await tx.em.execute(`update journal_post set status = 'PENDING', retries = ?, updated_at = ? where id = ?`, [retries, tx.now, id]);
  await tx.outbox({ queue: ACCOUNTING_QUEUE, jobName: ACCOUNTING_RETRY_JOB, payload: { tenantId: tx.tenantId, postId: id }, id: accountingJobId(ACCOUNTING_RETRY_JOB, `${id}:${retries}`) });
  await tx.audit({ eventType: 'books.journal_retry', actorId: userId, subjectType: 'journal_post', subjectId: id, data: { retries } });
  const row = await findJournalPost(tx, id);
  if (!row) throw notFound('journal post');
  return row;
}

/** Thrown by the accounting job when a post failed for a reason a later attempt can cure: the queue retries it with backoff. */
export class AccountingRetryLater extends Error {
  readonly code = 'ACCOUNTING_RETRY_LATER';
  constructor(
    readonly reasons: string[],
    readonly retryAfterMs?: number,
  ) {
    super(`accounting: retry later (${reasons.join(', ')})`);
  }
}

export type PostingDeps = { tenants: TenantTransactions; ring: KeyRing; clients: LedgerClients };
export type AttemptInfo = { attempt: number; maxAttempts: number };

/** The `accounting.fill` job: one journal_post per active connection, then each one that is not POSTED is posted. */
export async function postFill(deps: PostingDeps, fact: TaxAcquisitionFact, at: AttemptInfo): Promise<JournalPostRow[]> {
  const key = fillIdempotencyKey(fact.id);
  const ids = await deps.tenants.run(fact.tenantId, async (tx) => {
    const conns = (await listConnections(tx)).filter((c) => c.status === 'ACTIVE');
    for (const c of conns) {
      await tx.em.execute(
        `insert into journal_post (id, connection_id, provider, source_kind, source_id, idempotency_key, status, source, created_at, updated_at)
           values (?, ?, ?, 'FILL', ?, ?, 'PENDING', ?::jsonb, ?, ?) on conflict (tenant_id, connection_id, idempotency_key) do nothing`,
        [randomUUID(), c.id, c.provider, fact.id, key, JSON.stringify(fact), tx.now, tx.now],
      );
    }
    return (await tx.em.execute<{ id: string }[]>(`select id from journal_post where idempotency_key = ? and status <> 'POSTED' order by created_at, id`, [key])).map((r) => r.id);
  });
  return attemptPosts(deps, fact.tenantId, ids, at);
}

/** The `accounting.retry` job: one post again. */
export async function retryPost(deps: PostingDeps, tenantId: string, postId: string, at: AttemptInfo): Promise<JournalPostRow[]> {
  return attemptPosts(deps, tenantId, [postId], at);
}

async function attemptPosts(deps: PostingDeps, tenantId: string, ids: string[], at: AttemptInfo): Promise<JournalPostRow[]> {
  const later: { reason: string; retryAfterMs?: number }[] = [];
  const done: JournalPostRow[] = [];
  for (const id of ids) {
    const outcome = await attemptPost(deps, tenantId, id, at);
    if (outcome.retry) later.push(outcome.retry);
    if (outcome.row) done.push(outcome.row);
  }
  if (later.length > 0) {
    const waits = later.map((l) => l.retryAfterMs).filter((v): v is number => v !== undefined);
    throw new AccountingRetryLater(
      later.map((l) => l.reason),
      waits.length ? Math.max(...waits) : undefined,
    );
  }
  return done;
}

const FillSource = TaxAcquisitionFactV1;

type Prepared = { post: PostDb; conn: ConnectionDb; timeZone: string };

async function attemptPost(deps: PostingDeps, tenantId: string, postId: string, at: AttemptInfo): Promise<{ row?: JournalPostRow; retry?: { reason: string; retryAfterMs?: number } }> {
  const run: RunTx = (fn) => deps.tenants.run(tenantId, fn);
  const prepared = await run(async (tx): Promise<Prepared | null> => {
    const [post] = await tx.em.execute<PostDb[]>(`select ${POST_COLUMNS} from journal_post where id = ?`, [postId]);
    if (!post || post.status === 'POSTED') return null;
    const conn = await connectionDb(tx, post.connection_id);
    if (!conn) return null;
    return { post, conn, timeZone: (await loadProfile(tx.em))?.timeZone ?? DEFAULT_TIME_ZONE };
  });
  if (!prepared) return {};
  const { post, conn } = prepared;

  const record = async (status: JournalPostStatus, fields: { reason?: string | null; messages?: string[]; attempts: number; externalId?: string; debit?: bigint }): Promise<JournalPostRow> =>
    run(async (tx) => {
      await tx.em.execute(
        `update journal_post set status = ?, reason = ?, messages = ?::jsonb, attempts = attempts + ?, external_id = coalesce(?, external_id),
           debit_aud_cents = coalesce(?, debit_aud_cents), posted_at = ${status === 'POSTED' ? '?' : 'posted_at'}, updated_at = ? where id = ? and status <> 'POSTED'`,
        [
          status,
          fields.reason ?? null,
          JSON.stringify(fields.messages ?? []),
          fields.attempts,
          fields.externalId ?? null,
          fields.debit?.toString() ?? null,
          ...(status === 'POSTED' ? [tx.now] : []),
          tx.now,
          postId,
        ],
      );
      if (fields.reason === BooksReason.RECONNECT_REQUIRED) {
        await tx.em.execute(`update ledger_connection set status = 'RECONNECT_REQUIRED', updated_at = ? where id = ? and status = 'ACTIVE'`, [tx.now, conn.id]);
      }
      const row = await findJournalPost(tx, postId);
      if (!row) throw notFound('journal post');
      return row;
    });

  if (conn.status !== 'ACTIVE') return { row: await record('FAILED', { reason: conn.status === 'DISCONNECTED' ? 'NOT_CONNECTED' : 'RECONNECT_REQUIRED', attempts: 0 }) };
  if (!conn.mapping) return { row: await record('FAILED', { reason: 'MAPPING_REQUIRED', messages: ['choose the accounts for this ledger (setAccountMapping), then retry'], attempts: 0 }) };

  let debit: bigint | undefined;
  try {
    const fact = FillSource.parse(post.source);
    const journal = journalForFill(
      { purchaseId: fact.id, at: new Date(fact.at), satoshis: BigInt(fact.sats), spentAudCents: BigInt(fact.costAudCents), feeAudCents: BigInt(fact.feeAudCents), exchange: fact.exchange },
      conn.mapping,
      { timeZone: prepared.timeZone },
    );
    debit = journalTotals(journal.lines).debitAudCents;
    const grant: Grant = { id: conn.grant_id, tokens: new SealedTokenStore(run, deps.ring, tenantId, conn.grant_id) };
    let posted: PostedJournal;
    if (conn.provider === 'XERO') {
      const xero: XeroBooksClient | undefined = deps.clients.xero;
      if (!xero) throw booksError(BooksReason.NOT_CONNECTED, 'Xero is not configured on this platform');
      posted = await xero.postJournal(grant, conn.external_id, journal);
    } else {
      const myob: MyobBooksClient | undefined = deps.clients.myob;
      if (!myob) throw booksError(BooksReason.NOT_CONNECTED, 'MYOB is not configured on this platform');
      const cfToken = conn.cf_token_sealed ? open(deps.ring, conn.cf_token_sealed, cfAad(tenantId, conn.id)) : undefined;
      posted = await myob.postJournal(grant, { businessId: conn.external_id, cfToken, defaultTaxCodeUid: conn.default_tax_code ?? undefined }, journal);
    }
    log().info({ postId, provider: conn.provider, externalId: posted.externalId, attempts: posted.attempts }, 'journal posted');
    return { row: await record('POSTED', { attempts: posted.attempts, externalId: posted.externalId, debit }) };
  } catch (err) {
    const reason = booksReasonOf(err) ?? 'INTERNAL';
    const ext = err instanceof AppError ? err.extensions : {};
    const messages = Array.isArray(ext.messages) ? ext.messages.filter((m): m is string => typeof m === 'string') : [];
    const retryAfterMs = typeof ext.retryAfterMs === 'number' ? ext.retryAfterMs : undefined;
    const retryable = isRetryableBooksError(err) || reason === 'INTERNAL';
    const last = at.attempt >= at.maxAttempts;
    log().warn({ postId, provider: conn.provider, reason, retryable, attempt: at.attempt }, 'journal post failed');
    const row = await record(retryable && !last ? 'PENDING' : 'FAILED', { reason, messages: messages.length ? messages : [err instanceof AppError ? err.message : 'unexpected error'], attempts: 1, debit });
    return retryable && !last ? { row, retry: { reason, retryAfterMs } } : { row };
  }
}
