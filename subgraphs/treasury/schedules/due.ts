import type { EntityManager } from '@mikro-orm/postgresql';

/** FIXED_DCA rules whose next run is due (or not scheduled yet), on the database's clock; `nextRunMs` keys the job. */
export async function dueScheduledRules(em: EntityManager): Promise<{ id: string; nextRunMs: string | null }[]> {
  const rows = await em.execute<{ id: string; next_run_at: string | null }[]>(
    `select id, (extract(epoch from next_run_at) * 1000)::bigint::text as next_run_at from treasury_rule
     where type = 'FIXED_DCA' and enabled and (next_run_at is null or next_run_at <= now())`,
  );
  return rows.map((r) => ({ id: r.id, nextRunMs: r.next_run_at }));
}

/** Whether the tenant has an enabled PRICE_DROP rule to check. */
export async function hasPriceDropRules(em: EntityManager): Promise<boolean> {
  const rows = await em.execute<{ ok: number }[]>(`select 1 as ok from treasury_rule where type = 'PRICE_DROP' and enabled limit 1`);
  return rows.length > 0;
}

/**
 * Records that the cut-off of local `day` (YYYY-MM-DD) ran; false when it already had, however often
 * the job is delivered.
 */
export async function claimCutoffDay(em: EntityManager, day: string): Promise<boolean> {
  const first = await em.execute<{ ok: number }[]>(
    `insert into treasury_settings (last_cutoff_day) values (?)
     on conflict (tenant_id) do update set last_cutoff_day = excluded.last_cutoff_day
     where treasury_settings.last_cutoff_day is distinct from excluded.last_cutoff_day
     returning 1 as ok`,
    [day],
  );
  return first.length > 0;
}
