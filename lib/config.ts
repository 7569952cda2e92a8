import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('.data'),
  // Embedded PostgreSQL's port. Unset: 54329, or a free one remembered in DATA_DIR when that is taken.
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  // As root, where the embedded database and its binaries go when the postgres user cannot reach DATA_DIR.
  EMBEDDED_PG_RUNTIME_DIR: z.string().default('/var/lib/liquid-abt'),
  // SIGINT/SIGTERM: the whole stop must end within this, else the process exits 1 saying what hung.
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).default(8000),
  // Owner/migration connection. Unset: embedded PostgreSQL under DATA_DIR.
  DATABASE_URL: z.string().url().optional(),
  // Password the app and relay roles log in with; unset: generated once and kept in DATA_DIR.
  APP_DB_PASSWORD: z.string().min(16).optional(),
  REDIS_URL: z.string().url().optional(),
  // Prefix for every Redis key, channel and BullMQ queue (lets tests share one Redis).
  REDIS_PREFIX: z.string().regex(/^[a-z0-9_:-]+$/i).default('abt'),
  JWT_SECRET: z.string().min(32).optional(),
  // "kid:secret,kid2:secret2": the first signs, all verify (rotation). JWT_SECRET, if also set, verifies as kid "default".
  JWT_KEYS: z.string().min(1).optional(),
  // HMAC key(s) the gateway signs subgraph requests with ("new,old": the first signs). Unset: generated into DATA_DIR.
  GATEWAY_SECRET: z.string().min(32).optional(),
  // Generated keys (embedded mode) are replaced once older than this; the old ones keep verifying/opening.
  KEY_ROTATION_DAYS: z.coerce.number().min(1).max(3650).default(90),
  // How often the workers re-seal credentials and MFA secrets under the current key (and rotate generated keys).
  KEY_RESEAL_INTERVAL_MS: z.coerce.number().int().min(1000).default(86_400_000),
  GATEWAY_PORT: port(4000),
  TENANT_PORT: port(4001),
  TREASURY_PORT: port(4002),
  MARKET_PRICE_PORT: port(4003),
  COMPLIANCE_PORT: port(4004),
  WORKERS_PORT: port(4010),
  HOST: z.string().default('127.0.0.1'),
  TENANT_URL: z.string().url().optional(),
  TREASURY_URL: z.string().url().optional(),
  MARKET_PRICE_URL: z.string().url().optional(),
  COMPLIANCE_URL: z.string().url().optional(),
  PRICE_TICK_MS: z.coerce.number().int().min(50).default(5000),
  PRICE_SEED: z.coerce.number().int().default(20261125),
  // Market data: `simulated` (default, labelled) or real feeds, e.g. `kraken,independent-reserve,btc-markets`.
  PRICE_FEEDS: z.string().default('simulated'),
  PRICE_PUBLISH_MS: z.coerce.number().int().min(0).default(250),
  PRICE_STALE_MS: z.coerce.number().int().min(1000).default(30_000),
  PRICE_MAX_DEVIATION_BPS: z.coerce.number().int().min(1).max(10_000).default(200),
  PRICE_MIN_SOURCES: z.coerce.number().int().min(1).max(10).default(1),
  PRICE_CANDLE_FLUSH_MS: z.coerce.number().int().min(50).default(1000),
  PRICE_POLL_MS: z.coerce.number().int().min(1000).default(10_000),
  // Raw price ticks (day partitions of public.price_tick) older than this many days are dropped; candles stay.
  PRICE_TICK_RETENTION_DAYS: z.coerce.number().int().min(7).max(36_500).default(90),
  PRICE_TICK_PARTITIONS_AHEAD_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  PRICE_TICK_MAINTENANCE_MS: z.coerce.number().int().min(60_000).default(3_600_000),
  KRAKEN_WS_URL: z.string().url().optional(),
  INDEPENDENT_RESERVE_BASE_URL: z.string().url().optional(),
  BTC_MARKETS_BASE_URL: z.string().url().optional(),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(500),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(100).default(5),
  // "kid:base64key,kid2:base64key" (first seals; all open). Unset: one generated key in DATA_DIR.
  INTEGRATION_KEYS: z.string().min(1).optional(),
  // Where providers reach the webhook endpoints (Square signs this URL into each delivery): the
  // gateway's public address. Unset: the gateway's own when it runs in this process, else the tenant's.
  PUBLIC_WEBHOOK_BASE_URL: z.string().url().optional(),
  PAYPAL_API_BASE_URL: z.string().url().optional(),
  // Payment processors connected by OAuth (#12; README "Connecting a processor by OAuth"). Unset: only pasted secrets.
  // Square: the application's id and secret (never logged), its OAuth base (tests: a local fake) and the
  // signature key of the application's webhook subscription (notification URL <base>/webhooks/connect/square).
  SQUARE_APPLICATION_ID: z.string().min(1).optional(),
  SQUARE_APPLICATION_SECRET: z.string().min(1).optional(),
  SQUARE_OAUTH_BASE_URL: z.string().url().optional(),
  SQUARE_WEBHOOK_SIGNATURE_KEY: z.string().min(1).optional(),
  // Stripe Connect (Standard accounts): the platform's client id (ca_…), its secret key (never logged), the Connect
  // base (tests: a local fake) and the signing secret of the platform's Connect webhook endpoint (<base>/webhooks/connect/stripe).
  STRIPE_CONNECT_CLIENT_ID: z.string().regex(/^ca_[A-Za-z0-9]+$/, 'a Connect client id is ca_ followed by letters and digits').optional(),
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  STRIPE_CONNECT_BASE_URL: z.string().url().optional(),
  STRIPE_CONNECT_WEBHOOK_SECRET: z.string().min(1).optional(),
  // Where the browser lands after a provider's callback (`?paymentOAuth=connected|failed`); unset: the gateway's `/`.
  PAYMENT_OAUTH_RETURN_URL: z.string().url().optional(),
  // How often the workers refresh OAuth access tokens that expire within 7 days.
  PAYMENT_OAUTH_REFRESH_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  // Treasury execution. Amounts in AUD cents.
  EXCHANGE_MIN_ORDER_CENTS: z.coerce.bigint().min(1n).default(500n),
  MANUAL_PURCHASE_MAX_CENTS: z.coerce.bigint().min(1n).default(10_000_000n),
  PAPER_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  PAPER_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  PAPER_FEE_BPS: z.coerce.number().int().min(0).max(1000).default(10),
  // Longer than the worst route (3 lookups, a placement and a reconcile at 15 s each), so a live worker never loses it.
  PURCHASE_LEASE_MS: z.coerce.number().int().min(100).default(300_000),
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(50).default(15_000),
  PURCHASE_STALE_MS: z.coerce.number().int().min(100).default(60_000),
  // How long an exchange's open circuit breaker waits before letting one trial call through.
  EXCHANGE_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  // Real exchanges are used only when their credentials are set (never logged). Base URLs for testing against local servers.
  KRAKEN_API_KEY: z.string().min(1).optional(),
  KRAKEN_API_SECRET: z.string().min(1).optional(),
  KRAKEN_BASE_URL: z.string().url().optional(),
  SWYFTX_API_KEY: z.string().min(1).optional(),
  SWYFTX_BASE_URL: z.string().url().optional(),
  ZEROCAP_API_KEY: z.string().min(1).optional(),
  ZEROCAP_API_SECRET: z.string().min(1).optional(),
  ZEROCAP_BASE_URL: z.string().url().optional(),
  // Gateway edge (docs/edge.md). Comma-separated origins allowed cross-origin; none by default.
  GATEWAY_CORS_ORIGINS: z.string().optional(),
  // Behind a load balancer: how many proxy hops to trust for the client IP (rate limits per IP).
  GATEWAY_TRUST_PROXY: z.coerce.number().int().min(0).max(10).optional(),
  RATE_LIMITS: z.enum(['on', 'off']).default('on'),
  // Object storage of generated files (tax reports): `local` (DATA_DIR/objects, served by the gateway's /files) or `s3`.
  OBJECT_STORE: z.enum(['local', 's3']).default('local'),
  // Tracing (docs/operations.md#tracing): an OTLP/HTTP collector. Unset: tracing is off (no SDK, no exporter).
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  // The traces URL itself (wins over OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces).
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
  // Share of new traces kept (a caller's sampled flag is followed): 1 keeps every trace.
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  OBJECT_STORE_DIR: z.string().optional(),
  // S3 or an S3-compatible server (path-style when S3_ENDPOINT is set). Credentials never logged; unset: the SDK's chain.
  S3_ENDPOINT: z.string().url().optional(),
  S3_BUCKET: z.string().min(3).default('liquid-abt'),
  S3_REGION: z.string().min(1).default('ap-southeast-2'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  // Backups (`npm run backup` / `restore`): keep every backup of the last 24 h and the newest of each of the last BACKUP_KEEP days.
  BACKUP_KEEP: z.coerce.number().int().min(1).max(3650).default(14),
  BACKUP_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/).default('backups'),
  // The bucket backups go to (OBJECT_STORE=s3); unset: S3_BUCKET.
  BACKUP_S3_BUCKET: z.string().min(3).optional(),
  // pg_restore --jobs: parallel restore workers (more cores, shorter RTO).
  BACKUP_RESTORE_JOBS: z.coerce.number().int().min(1).max(64).default(2),
  // HMAC key of the local store's download URLs (never logged). Unset: generated once into DATA_DIR.
  FILES_SIGNING_SECRET: z.string().min(32).optional(),
  // Where clients reach /files (the gateway's public address). Unset: http://HOST:GATEWAY_PORT.
  FILES_BASE_URL: z.string().url().optional(),
  // Lifetime of a signed download URL.
  FILES_URL_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  // Books (#12): Xero and MYOB apps; unset → that ledger cannot be connected. Base URLs point at local fakes in tests.
  XERO_CLIENT_ID: z.string().optional(),
  XERO_CLIENT_SECRET: z.string().optional(),
  XERO_REDIRECT_URI: z.string().url().optional(),
  XERO_LOGIN_BASE_URL: z.string().url().optional(),
  XERO_IDENTITY_BASE_URL: z.string().url().optional(),
  XERO_API_BASE_URL: z.string().url().optional(),
  MYOB_API_KEY: z.string().optional(),
  MYOB_API_SECRET: z.string().optional(),
  MYOB_REDIRECT_URI: z.string().url().optional(),
  MYOB_SECURE_BASE_URL: z.string().url().optional(),
  MYOB_API_BASE_URL: z.string().url().optional(),
  // Notifications (#12): smtp://user:pass@host:port; unset → each email is written to <DATA_DIR>/outbox-mail as an .eml file (open it in a mail client).
  SMTP_URL: z.string().url().optional(),
  MAIL_FROM: z.string().default('Liquid ABT <no-reply@liquidabt.local>'),
  // Where the .eml files go without SMTP_URL; default <DATA_DIR>/outbox-mail.
  MAIL_OUTBOX_DIR: z.string().min(1).optional(),
  // SMS (#12): SMS_PROVIDER=twilio with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (never logged) and TWILIO_FROM (E.164) or
  // TWILIO_MESSAGING_SERVICE_SID; TWILIO_API_BASE_URL for a fake. Unset → each SMS is written to <DATA_DIR>/outbox-sms.
  SMS_PROVIDER: z.enum(['twilio', 'outbox']).optional(),
  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'an Account SID is AC followed by 32 hex digits').optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM: z.string().regex(/^\+[1-9]\d{1,14}$/, 'an E.164 number').optional(),
  TWILIO_MESSAGING_SERVICE_SID: z.string().regex(/^MG[0-9a-fA-F]{32}$/, 'a Messaging Service SID is MG followed by 32 hex digits').optional(),
  TWILIO_API_BASE_URL: z.string().url().optional(),
  SMS_OUTBOX_DIR: z.string().min(1).optional(),
  // ABN Lookup web services (abr.business.gov.au/json): the authentication GUID (never logged) and, for tests, another base URL.
  ABR_GUID: z.string().min(1).optional(),
  ABR_BASE_URL: z.string().url().optional(),
  // The reporting entity an SMR draft names (the platform operator): name, ABN, AUSTRAC id, state (business days).
  AML_REPORTING_ENTITY_NAME: z.string().min(1).default('Liquid ABT operator'),
  AML_REPORTING_ENTITY_ABN: z.string().regex(/^\d{11}$/).default('51824753556'),
  AML_REPORTING_ENTITY_AUSTRAC_ID: z.string().min(1).optional(),
  AML_REPORTING_ENTITY_STATE: z.enum(['NSW', 'VIC', 'QLD', 'SA', 'WA', 'TAS', 'NT', 'ACT']).default('NSW'),
  SEED_DEMO: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
});

export type Env = z.infer<typeof EnvSchema>;

export type SubgraphName = 'tenant' | 'treasury' | 'market-price' | 'compliance';

export type Config = {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  embeddedPg: { port?: number; runtimeDir: string };
  shutdownTimeoutMs: number;
  /** OTLP/HTTP traces URL; unset: tracing off. */
  tracing: { tracesUrl?: string; sampleRatio: number };
  databaseUrl?: string;
  appDbPassword?: string;
  redisUrl?: string;
  redisPrefix: string;
  jwtSecret?: string;
  jwtKeys?: string;
  gatewaySecret?: string;
  keys: { rotationDays: number; resealIntervalMs: number };
  host: string;
  ports: { gateway: number; tenant: number; treasury: number; marketPrice: number; compliance: number; workers: number };
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  priceTickMs: number;
  priceSeed: number;
  market: {
    feeds: string;
    publishIntervalMs: number;
    staleAfterMs: number;
    maxDeviationBps: number;
    minSources: number;
    candleFlushMs: number;
    pollMs: number;
    /** Day partitions of raw ticks: kept retentionDays, made aheadDays ahead, checked every maintenanceMs (workers). */
    tickPartitions: { retentionDays: number; aheadDays: number; intervalMs: number };
    krakenWsUrl?: string;
    krakenRestUrl?: string;
    independentReserveUrl?: string;
    btcMarketsUrl?: string;
  };
  outboxPollMs: number;
  dbPoolMax: number;
  seedDemo: boolean;
  integrationKeys?: string;
  publicWebhookBaseUrl?: string;
  paypalApiBaseUrl: string;
  paymentOAuth: PaymentOAuthSettings;
  gateway: { corsOrigins: string[]; trustProxy?: number; rateLimits: boolean };
  storage: {
    kind: 'local' | 's3';
    /** Local store root; default `<dataDir>/objects`. */
    localDir: string;
    s3: { endpoint?: string; bucket: string; region: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
    filesSecret?: string;
    filesBaseUrl: string;
    urlTtlSeconds: number;
  };
  backup: { keepDays: number; prefix: string; s3Bucket?: string; restoreJobs: number };
  treasury: {
    exchangeMinCents: bigint;
    manualMaxCents: bigint;
    paper: { latencyMs: number; failureRate: number; feeBps: number };
    leaseMs: number;
    schedulerIntervalMs: number;
    staleMs: number;
    breakerCoolDownMs: number;
    kraken?: { apiKey: string; apiSecret: string; baseUrl?: string };
    swyftx?: { apiKey: string; baseUrl?: string };
    zerocap?: { apiKey: string; apiSecret: string; baseUrl?: string };
  };
  books: {
    xero?: { clientId: string; clientSecret: string; redirectUri: string; loginBaseUrl?: string; identityBaseUrl?: string; apiBaseUrl?: string };
    myob?: { apiKey: string; apiSecret: string; redirectUri: string; secureBaseUrl?: string; apiBaseUrl?: string };
  };
  mail: { smtpUrl?: string; from: string; outboxDir: string };
  /** SMS (#12): Twilio when configured, else a local outbox folder. */
  sms: { twilio?: TwilioConfig; outboxDir: string };
  /** AML/CTF (#11): ABN Lookup; unset: legal entities are recorded as declared (source DECLARED). */
  aml: {
    abr?: { guid: string; baseUrl?: string };
    reportingEntity: { name: string; abn: string; austracId: string | null; state: 'NSW' | 'VIC' | 'QLD' | 'SA' | 'WA' | 'TAS' | 'NT' | 'ACT' };
  };
};

export type PaymentOAuthSettings = {
  square?: { applicationId: string; applicationSecret: string; baseUrl: string; signatureKey?: string };
  stripe?: { clientId: string; secretKey: string; baseUrl: string; webhookSecret?: string };
  returnUrl?: string;
  refreshIntervalMs: number;
};

export type TwilioConfig = { accountSid: string; authToken: string; from?: string; messagingServiceSid?: string; apiBaseUrl?: string };

/** Twilio when SMS_PROVIDER=twilio (or its credentials are set without SMS_PROVIDER); a half-configured Twilio is refused, naming the variables only. */
function smsConfig(e: { SMS_PROVIDER?: 'twilio' | 'outbox'; TWILIO_ACCOUNT_SID?: string; TWILIO_AUTH_TOKEN?: string; TWILIO_FROM?: string; TWILIO_MESSAGING_SERVICE_SID?: string; TWILIO_API_BASE_URL?: string }): TwilioConfig | undefined {
  const wanted = e.SMS_PROVIDER === 'twilio' || (e.SMS_PROVIDER === undefined && (e.TWILIO_ACCOUNT_SID !== undefined || e.TWILIO_AUTH_TOKEN !== undefined));
  if (!wanted) return undefined;
  const missing = [
    e.TWILIO_ACCOUNT_SID ? null : 'TWILIO_ACCOUNT_SID',
    e.TWILIO_AUTH_TOKEN ? null : 'TWILIO_AUTH_TOKEN',
    e.TWILIO_FROM || e.TWILIO_MESSAGING_SERVICE_SID ? null : 'TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID',
  ].filter((x): x is string => x !== null);
  if (missing.length > 0 || !e.TWILIO_ACCOUNT_SID || !e.TWILIO_AUTH_TOKEN) throw new ConfigError(`invalid configuration: SMS_PROVIDER=twilio needs ${missing.join(', ')}`);
  return { accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from: e.TWILIO_FROM, messagingServiceSid: e.TWILIO_MESSAGING_SERVICE_SID, apiBaseUrl: e.TWILIO_API_BASE_URL };
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Reads and validates configuration; every value has an embedded default. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset (compose files pass `${VAR:-}` for optional settings).
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    // Name the variables, never echo their values (they may be secrets).
    const names = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${names}`);
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    embeddedPg: { port: e.EMBEDDED_PG_PORT, runtimeDir: e.EMBEDDED_PG_RUNTIME_DIR },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    tracing: {
      tracesUrl:
        e.OTEL_SDK_DISABLED === 'true'
          ? undefined
          : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined)),
      sampleRatio: e.OTEL_TRACES_SAMPLER_ARG,
    },
    databaseUrl: e.DATABASE_URL,
    appDbPassword: e.APP_DB_PASSWORD,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    jwtSecret: e.JWT_SECRET,
    jwtKeys: e.JWT_KEYS,
    gatewaySecret: e.GATEWAY_SECRET,
    keys: { rotationDays: e.KEY_ROTATION_DAYS, resealIntervalMs: e.KEY_RESEAL_INTERVAL_MS },
    host: e.HOST,
    ports: {
      gateway: e.GATEWAY_PORT,
      tenant: e.TENANT_PORT,
      treasury: e.TREASURY_PORT,
      marketPrice: e.MARKET_PRICE_PORT,
      compliance: e.COMPLIANCE_PORT,
      workers: e.WORKERS_PORT,
    },
    subgraphUrls: {
      tenant: e.TENANT_URL,
      treasury: e.TREASURY_URL,
      'market-price': e.MARKET_PRICE_URL,
      compliance: e.COMPLIANCE_URL,
    },
    priceTickMs: e.PRICE_TICK_MS,
    priceSeed: e.PRICE_SEED,
    market: {
      feeds: e.PRICE_FEEDS,
      publishIntervalMs: e.PRICE_PUBLISH_MS,
      staleAfterMs: e.PRICE_STALE_MS,
      maxDeviationBps: e.PRICE_MAX_DEVIATION_BPS,
      minSources: e.PRICE_MIN_SOURCES,
      candleFlushMs: e.PRICE_CANDLE_FLUSH_MS,
      pollMs: e.PRICE_POLL_MS,
      tickPartitions: { retentionDays: e.PRICE_TICK_RETENTION_DAYS, aheadDays: e.PRICE_TICK_PARTITIONS_AHEAD_DAYS, intervalMs: e.PRICE_TICK_MAINTENANCE_MS },
      krakenWsUrl: e.KRAKEN_WS_URL,
      krakenRestUrl: e.KRAKEN_BASE_URL,
      independentReserveUrl: e.INDEPENDENT_RESERVE_BASE_URL,
      btcMarketsUrl: e.BTC_MARKETS_BASE_URL,
    },
    outboxPollMs: e.OUTBOX_POLL_MS,
    dbPoolMax: e.DB_POOL_MAX,
    seedDemo: e.SEED_DEMO,
    integrationKeys: e.INTEGRATION_KEYS,
    publicWebhookBaseUrl: e.PUBLIC_WEBHOOK_BASE_URL,
    paypalApiBaseUrl: e.PAYPAL_API_BASE_URL ?? (e.NODE_ENV === 'production' ? 'https://api-m.paypal.com' : 'https://api-m.sandbox.paypal.com'),
    paymentOAuth: {
      square:
        e.SQUARE_APPLICATION_ID && e.SQUARE_APPLICATION_SECRET
          ? {
              applicationId: e.SQUARE_APPLICATION_ID,
              applicationSecret: e.SQUARE_APPLICATION_SECRET,
              baseUrl: e.SQUARE_OAUTH_BASE_URL ?? (e.NODE_ENV === 'production' ? 'https://connect.squareup.com' : 'https://connect.squareupsandbox.com'),
              signatureKey: e.SQUARE_WEBHOOK_SIGNATURE_KEY,
            }
          : undefined,
      stripe:
        e.STRIPE_CONNECT_CLIENT_ID && e.STRIPE_SECRET_KEY
          ? { clientId: e.STRIPE_CONNECT_CLIENT_ID, secretKey: e.STRIPE_SECRET_KEY, baseUrl: e.STRIPE_CONNECT_BASE_URL ?? 'https://connect.stripe.com', webhookSecret: e.STRIPE_CONNECT_WEBHOOK_SECRET }
          : undefined,
      returnUrl: e.PAYMENT_OAUTH_RETURN_URL,
      refreshIntervalMs: e.PAYMENT_OAUTH_REFRESH_INTERVAL_MS,
    },
    gateway: {
      corsOrigins: (e.GATEWAY_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
      trustProxy: e.GATEWAY_TRUST_PROXY,
      rateLimits: e.RATE_LIMITS === 'on',
    },
    storage: {
      kind: e.OBJECT_STORE,
      localDir: e.OBJECT_STORE_DIR ?? `${e.DATA_DIR}/objects`,
      s3: {
        endpoint: e.S3_ENDPOINT,
        bucket: e.S3_BUCKET,
        region: e.S3_REGION,
        credentials: e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } : undefined,
      },
      filesSecret: e.FILES_SIGNING_SECRET,
      filesBaseUrl: e.FILES_BASE_URL ?? `http://${e.HOST}:${e.GATEWAY_PORT}`,
      urlTtlSeconds: e.FILES_URL_TTL_SECONDS,
    },
    backup: { keepDays: e.BACKUP_KEEP, prefix: e.BACKUP_PREFIX, s3Bucket: e.BACKUP_S3_BUCKET, restoreJobs: e.BACKUP_RESTORE_JOBS },
    treasury: {
      exchangeMinCents: e.EXCHANGE_MIN_ORDER_CENTS,
      manualMaxCents: e.MANUAL_PURCHASE_MAX_CENTS,
      paper: { latencyMs: e.PAPER_LATENCY_MS, failureRate: e.PAPER_FAILURE_RATE, feeBps: e.PAPER_FEE_BPS },
      leaseMs: e.PURCHASE_LEASE_MS,
      schedulerIntervalMs: e.SCHEDULER_INTERVAL_MS,
      staleMs: e.PURCHASE_STALE_MS,
      breakerCoolDownMs: e.EXCHANGE_BREAKER_COOLDOWN_MS,
      kraken: e.KRAKEN_API_KEY && e.KRAKEN_API_SECRET ? { apiKey: e.KRAKEN_API_KEY, apiSecret: e.KRAKEN_API_SECRET, baseUrl: e.KRAKEN_BASE_URL } : undefined,
      swyftx: e.SWYFTX_API_KEY ? { apiKey: e.SWYFTX_API_KEY, baseUrl: e.SWYFTX_BASE_URL } : undefined,
      zerocap:
        e.ZEROCAP_API_KEY && e.ZEROCAP_API_SECRET ? { apiKey: e.ZEROCAP_API_KEY, apiSecret: e.ZEROCAP_API_SECRET, baseUrl: e.ZEROCAP_BASE_URL } : undefined,
    },
    books: {
      xero:
        e.XERO_CLIENT_ID && e.XERO_CLIENT_SECRET && e.XERO_REDIRECT_URI
          ? { clientId: e.XERO_CLIENT_ID, clientSecret: e.XERO_CLIENT_SECRET, redirectUri: e.XERO_REDIRECT_URI, loginBaseUrl: e.XERO_LOGIN_BASE_URL, identityBaseUrl: e.XERO_IDENTITY_BASE_URL, apiBaseUrl: e.XERO_API_BASE_URL }
          : undefined,
      myob:
        e.MYOB_API_KEY && e.MYOB_API_SECRET && e.MYOB_REDIRECT_URI
          ? { apiKey: e.MYOB_API_KEY, apiSecret: e.MYOB_API_SECRET, redirectUri: e.MYOB_REDIRECT_URI, secureBaseUrl: e.MYOB_SECURE_BASE_URL, apiBaseUrl: e.MYOB_API_BASE_URL }
          : undefined,
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM, outboxDir: e.MAIL_OUTBOX_DIR ?? `${e.DATA_DIR}/outbox-mail` },
    sms: { twilio: smsConfig(e), outboxDir: e.SMS_OUTBOX_DIR ?? `${e.DATA_DIR}/outbox-sms` },
    aml: {
      abr: e.ABR_GUID ? { guid: e.ABR_GUID, baseUrl: e.ABR_BASE_URL } : undefined,
      reportingEntity: { name: e.AML_REPORTING_ENTITY_NAME, abn: e.AML_REPORTING_ENTITY_ABN, austracId: e.AML_REPORTING_ENTITY_AUSTRAC_ID ?? null, state: e.AML_REPORTING_ENTITY_STATE },
    },
  };
}
