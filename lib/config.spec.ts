import { ConfigError, loadConfig } from './config';

describe('configuration', () => {
  it('treats an empty variable as unset (compose passes ${VAR:-} for optional settings)', () => {
    const c = loadConfig({ KRAKEN_API_KEY: '', KRAKEN_API_SECRET: '', GATEWAY_CORS_ORIGINS: '', DATABASE_URL: '' });
    expect(c.treasury.kraken).toBeUndefined();
    expect(c.gateway.corsOrigins).toEqual([]);
    expect(c.databaseUrl).toBeUndefined();
  });
  it('uses real exchanges only with both halves of their credentials', () => {
    expect(loadConfig({ KRAKEN_API_KEY: 'k' }).treasury.kraken).toBeUndefined();
    expect(loadConfig({ KRAKEN_API_KEY: 'k', KRAKEN_API_SECRET: 's' }).treasury.kraken).toEqual({ apiKey: 'k', apiSecret: 's', baseUrl: undefined });
  });
  it('names a bad variable without echoing its value', () => {
    let err: unknown;
    try {
      loadConfig({ EXCHANGE_MIN_ORDER_CENTS: 'not-a-number-secret-ish' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('EXCHANGE_MIN_ORDER_CENTS');
    expect((err as Error).message).not.toContain('secret-ish');
  });
});
