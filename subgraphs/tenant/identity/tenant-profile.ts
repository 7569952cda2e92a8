import type { TenantTx } from '../../../lib/db/tenant-tx';

/** The job tenant writes when a tenant's profile (today: its timezone) is set or changes; treasury keeps its own copy. */
export const TENANT_PROFILE_JOB = 'tenant.profile';

export type TenantProfilePayload = { tenantId: string; timezone: string; asOf: string };

/**
 * Announces a tenant's timezone to the modules that keep one (treasury: caps, schedules, cut-off),
 * in the caller's tenant transaction: the job exists if and only if the change commits. `asOf` is
 * the database's clock, so a consumer keeps the newest of two announcements however they arrive.
 */
export async function announceTenantProfile(tx: Pick<TenantTx, 'outbox'>, profile: { tenantId: string; timezone: string; asOf: Date }): Promise<string> {
  const payload: TenantProfilePayload = { tenantId: profile.tenantId, timezone: profile.timezone, asOf: profile.asOf.toISOString() };
  return tx.outbox({ queue: 'schedules', jobName: TENANT_PROFILE_JOB, payload });
}
