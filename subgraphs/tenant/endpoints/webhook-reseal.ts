import type { MikroORM } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { reseal, type KeyRing } from '../../../lib/crypto/secret-box';
import { log } from '../../../lib/logger';
import { secretAad } from './webhook-endpoint.service';

export type WebhookResealReport = { resealed: number; failed: number };

/**
 * Re-seals endpoint signing secrets (current and rotating-out) not under the ring's current key, one
 * tenant transaction each, so a retired sealing key never strands a secret. Counts only in the log.
 */
export async function resealWebhookSecrets(orm: MikroORM, tenants: TenantTransactions, keys: KeyRing): Promise<WebhookResealReport> {
  const report: WebhookResealReport = { resealed: 0, failed: 0 };
  const ids = await orm.em.fork().getConnection().execute<{ id: string }[]>(`select id from public.tenant order by id`);
  for (const { id: tenantId } of ids) {
    try {
      await tenants.run(tenantId, async ({ em }) => {
        const rows = await em.execute<{ id: string; cur: string; prev: string | null }[]>(
          `select id::text as id, secret_sealed as cur, previous_secret_sealed as prev from webhook_endpoint
            where split_part(secret_sealed, '.', 2) <> ? or split_part(coalesce(previous_secret_sealed, ''), '.', 2) not in ('', ?) for update`,
          [keys.current, keys.current],
        );
        for (const r of rows) {
          try {
            const aad = secretAad(tenantId, r.id);
            await em.execute(`update webhook_endpoint set secret_sealed = ?, previous_secret_sealed = ? where id = ?`, [reseal(keys, r.cur, aad), r.prev ? reseal(keys, r.prev, aad) : null, r.id]);
            report.resealed++;
          } catch (err) {
            report.failed++;
            log().error({ tenantId, endpointId: r.id, err: (err as Error).name }, 'webhook secret could not be re-sealed');
          }
        }
      });
    } catch (err) {
      report.failed++;
      log().warn({ tenantId, err: (err as Error).message }, 'webhook secret re-seal skipped a tenant');
    }
  }
  return report;
}
