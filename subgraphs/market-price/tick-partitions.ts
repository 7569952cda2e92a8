import type { MikroORM } from '@mikro-orm/postgresql';
import { log } from '../../lib/logger';
import { PeriodicTask } from '../../lib/periodic';

/**
 * Maintenance of the day partitions of `public.price_tick` (migration
 * Migration20261203160000_price_tick_partitions): each pass creates today's partition and the next
 * `aheadDays`, and drops every day older than `retentionDays` whole. Candles (`price_candle`) are a
 * table of their own and are never touched. The work is done by the owner's security-definer
 * function `public.price_tick_partitions`, which the app role may execute; it serialises concurrent
 * passes (several workers) with an advisory lock and refuses a clock ahead of the database's.
 */

export type TickPartitionSettings = {
  /** Raw ticks are kept at least this many days (whole UTC days; at least 7). */
  retentionDays: number;
  /** Partitions exist this many days ahead of today (1–90). */
  aheadDays: number;
};

export type TickPartitionPass = { created: string[]; dropped: string[] };

/** The bounds the SQL function enforces, checked here first so a bad setting fails with its name. */
export function assertTickPartitionSettings(s: TickPartitionSettings): void {
  if (!Number.isInteger(s.retentionDays) || s.retentionDays < 7 || s.retentionDays > 36_500) {
    throw new RangeError(`PRICE_TICK_RETENTION_DAYS must be a whole number of days from 7 to 36500 (got ${s.retentionDays})`);
  }
  if (!Number.isInteger(s.aheadDays) || s.aheadDays < 1 || s.aheadDays > 90) {
    throw new RangeError(`PRICE_TICK_PARTITIONS_AHEAD_DAYS must be a whole number from 1 to 90 (got ${s.aheadDays})`);
  }
}

/** One pass at `now`: what it created and dropped, by partition name (`price_tick_pYYYYMMDD`). */
export async function maintainTickPartitions(orm: MikroORM, settings: TickPartitionSettings, now: Date): Promise<TickPartitionPass> {
  assertTickPartitionSettings(settings);
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<{ action: 'created' | 'dropped'; partition_name: string }[]>(
      `select action, partition_name from public.price_tick_partitions(?::timestamptz, ?::int, ?::int)`,
      [now.toISOString(), settings.aheadDays, settings.retentionDays],
    );
  const pass: TickPartitionPass = {
    created: rows.filter((r) => r.action === 'created').map((r) => r.partition_name),
    dropped: rows.filter((r) => r.action === 'dropped').map((r) => r.partition_name),
  };
  if (pass.created.length > 0 || pass.dropped.length > 0) log().info({ ...pass, retentionDays: settings.retentionDays }, 'price tick partitions maintained');
  return pass;
}

/** PostgreSQL's error for a tick whose UTC day has no partition yet (check_violation). */
export function isMissingTickPartition(err: unknown): boolean {
  return (err as { code?: unknown }).code === '23514' && /no partition of relation "price_tick" found/.test(err instanceof Error ? err.message : '');
}

/** Makes the partition of `at`'s UTC day (and the next) if missing; drops nothing. Returns what it made. */
export async function ensureTickPartitionFor(orm: MikroORM, at: Date): Promise<string[]> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<{ partition_name: string }[]>(`select partition_name from public.price_tick_partitions(?::timestamptz, 1, null)`, [at.toISOString()]);
  const created = rows.map((r) => r.partition_name);
  if (created.length > 0) log().warn({ created, at: at.toISOString() }, 'price tick partition was missing (is the workers role running?); created it');
  return created;
}

/** The workers' background task: a pass at start and then every `intervalMs` (default hourly). */
export function tickPartitionTask(
  orm: MikroORM,
  settings: TickPartitionSettings & { intervalMs: number },
  now: () => Date = () => new Date(),
): PeriodicTask {
  assertTickPartitionSettings(settings);
  return new PeriodicTask('price-tick-partitions', settings.intervalMs, () => maintainTickPartitions(orm, settings, now()));
}
