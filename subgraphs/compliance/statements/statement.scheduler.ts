import type { MikroORM } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import { PeriodicTask, forEachTenant } from '../../../lib/periodic';
import { previousMonth } from './statement-month';
import { openStatement } from './statement.service';

/** How often the workers look for tenants whose month has turned (a statement opens at most once however often). */
export const STATEMENT_SCHEDULER_INTERVAL_MS = 10 * 60_000;

/**
 * The monthly statement schedule (compliance's background task): from the 1st of a month in each
 * tenant's timezone, the previous month's statement is opened once (`openStatement`), if the tenant
 * existed before that month ended. A pass missed on the 1st (workers down) catches up on the next.
 */
export class StatementScheduler {
  private readonly task: PeriodicTask;

  constructor(
    private readonly opts: { orm: MikroORM; tenants: TenantTransactions; intervalMs?: number; /** Tests only: the instant a pass takes as now (default the database's). */ now?: () => Date },
  ) {
    this.task = new PeriodicTask('statement-scheduler', opts.intervalMs ?? STATEMENT_SCHEDULER_INTERVAL_MS, () => this.pass());
  }

  start(): void {
    this.task.start(5_000);
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One visit of every tenant; returns the ids of the tenants whose statement this pass opened. */
  async pass(): Promise<string[]> {
    const opened: string[] = [];
    await forEachTenant(this.opts.orm, 'statement-scheduler', async (tenantId) => {
      const made = await this.opts.tenants.run(tenantId, async (tx) => {
        const [t] = await tx.em.execute<{ timezone: string; created_at: Date }[]>(`select timezone, created_at from public.tenant where id = ?`, [tenantId]);
        if (!t) return false;
        const month = previousMonth(this.opts.now?.() ?? tx.now, t.timezone);
        if (new Date(t.created_at) >= month.end) return false;
        return openStatement(tx, month);
      });
      if (made) opened.push(tenantId);
    });
    if (opened.length > 0) log().info({ tenants: opened.length }, 'monthly statements opened');
    return opened;
  }
}
