import type { MikroORM } from '@mikro-orm/postgresql';
import { log, withCorrelation } from './logger';

/**
 * A pass that runs now and then: the first after `firstRunMs`, each next one `intervalMs` after
 * the previous pass ended (passes never overlap), each under its own correlation id. A failed pass
 * is logged and the next one still runs. `stop()` cancels the next pass and waits for the running one.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    /** Names the pass in logs and correlation ids, e.g. `treasury-scheduler`. */
    readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<unknown>,
  ) {}

  start(firstRunMs = 1000): void {
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      this.running = withCorrelation(this.name, {}, () => this.pass())
        .then(() => undefined)
        .catch((err: Error) => log().warn({ task: this.name, err: err.message }, `${this.name} pass failed`))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
        });
    };
    this.timer = setTimeout(loop, Math.min(firstRunMs, this.intervalMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/**
 * Visits every tenant of the platform's directory (ids only, in id order), one at a time. One
 * tenant's failure (a schema not migrated yet, a lock timeout) is logged and does not stop the others.
 */
export async function forEachTenant(orm: MikroORM, task: string, visit: (tenantId: string) => Promise<void>): Promise<void> {
  const tenants = await orm.em.fork().getConnection().execute<{ id: string }[]>(`select id from public.tenant order by id`);
  for (const t of tenants) {
    await visit(t.id).catch((err: Error) => log().warn({ task, tenantId: t.id, err: err.message }, `${task}: tenant skipped`));
  }
}
