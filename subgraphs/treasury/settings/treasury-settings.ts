import type { EntityManager } from '@mikro-orm/postgresql';

/** The tenant's timezone until the tenant module tells treasury otherwise (the platform default). */
export const DEFAULT_TIMEZONE = 'Australia/Sydney';

export type TreasurySettingsView = { primaryExchange: string; failoverExchanges: string[]; cutoffLocalTime: string };
export type TreasuryProfile = TreasurySettingsView & { timezone: string };

type SettingsRow = { primary_exchange: string; failover_exchanges: string[]; cutoff_local_time: string; timezone: string };

/** The tenant's routing, cut-off and timezone (in the caller's tenant transaction); the defaults until it sets them. */
export async function readTreasurySettings(em: EntityManager): Promise<TreasuryProfile> {
  const [r] = await em.execute<SettingsRow[]>(`select primary_exchange, failover_exchanges, cutoff_local_time, timezone from treasury_settings`);
  return r
    ? { primaryExchange: r.primary_exchange, failoverExchanges: r.failover_exchanges, cutoffLocalTime: r.cutoff_local_time, timezone: r.timezone }
    : { primaryExchange: 'paper', failoverExchanges: [], cutoffLocalTime: '17:00', timezone: DEFAULT_TIMEZONE };
}

/** The tenant's timezone, kept by treasury (never read from the tenant module's tables). */
export async function tenantTimezone(em: EntityManager): Promise<string> {
  return (await readTreasurySettings(em)).timezone;
}

export async function writeTreasurySettings(em: EntityManager, next: TreasurySettingsView): Promise<void> {
  await em.execute(
    `insert into treasury_settings (primary_exchange, failover_exchanges, cutoff_local_time, updated_at) values (?, ?::text[], ?, now())
     on conflict (tenant_id) do update set primary_exchange = excluded.primary_exchange, failover_exchanges = excluded.failover_exchanges,
       cutoff_local_time = excluded.cutoff_local_time, updated_at = now()`,
    [next.primaryExchange, `{${next.failoverExchanges.join(',')}}`, next.cutoffLocalTime],
  );
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-AU', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The tenant module's profile event (`schedules` job `tenant.profile`): keeps the timezone when it is
 * newer than the one held (events may arrive out of order or twice). True when it changed anything.
 */
export async function applyTenantProfile(em: EntityManager, profile: { timezone: string; asOf: Date }): Promise<boolean> {
  if (!isTimeZone(profile.timezone)) throw new Error(`tenant.profile: "${profile.timezone}" is not an IANA timezone`);
  if (Number.isNaN(profile.asOf.getTime())) throw new Error('tenant.profile: asOf is not a date');
  const rows = await em.execute<{ ok: number }[]>(
    `insert into treasury_settings (timezone, timezone_as_of) values (?, ?)
     on conflict (tenant_id) do update set timezone = excluded.timezone, timezone_as_of = excluded.timezone_as_of, updated_at = now()
     where treasury_settings.timezone_as_of is null or treasury_settings.timezone_as_of < excluded.timezone_as_of
     returning 1 as ok`,
    [profile.timezone, profile.asOf],
  );
  return rows.length > 0;
}
