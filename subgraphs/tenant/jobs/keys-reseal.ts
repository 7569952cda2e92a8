import { log } from '../../../lib/logger';
import { PeriodicTask } from '../../../lib/periodic';
import type { IntegrationService, ResealReport } from '../payments/integration.service';
import type { MfaService } from '../identity/mfa.service';

export type KeyMaintenanceOptions = {
  integrations: Pick<IntegrationService, 'resealCredentials'>;
  mfa: Pick<MfaService, 'resealSecrets'>;
  /** Outbound webhook signing secrets (#12), when the caller has a tenant connection for them. */
  webhooks?: { resealSecrets(): Promise<{ resealed: number; failed: number }> };
  /** Embedded mode: replaces generated keys older than the rotation period (in place, for this process's rings) first. */
  rotate?: () => string[];
  intervalMs: number;
};

export type KeyMaintenanceReport = { rotated: string[]; integrations: ResealReport; mfa: { resealed: number; failed: number }; webhooks?: { resealed: number; failed: number } };

/**
 * The workers' key job: (embedded) rotate generated keys that are due, then re-seal every
 * integration credential and MFA secret not under the current key. Runs shortly after start and
 * then every `intervalMs` (daily by default); also `npm run keys:reseal`. Logs counts, never values.
 */
export class KeyMaintenance {
  readonly name = 'key-maintenance';
  private readonly periodic: PeriodicTask;

  constructor(private readonly opts: KeyMaintenanceOptions) {
    this.periodic = new PeriodicTask('keys-reseal', opts.intervalMs, () => this.runOnce());
  }

  async runOnce(): Promise<KeyMaintenanceReport> {
    const rotated = this.opts.rotate?.() ?? [];
    if (rotated.length) log().info({ rotated }, 'generated keys rotated; old keys kept for verification and opening');
    const integrations = await this.opts.integrations.resealCredentials();
    const mfa = await this.opts.mfa.resealSecrets();
    const webhooks = await this.opts.webhooks?.resealSecrets();
    const report: KeyMaintenanceReport = { rotated, integrations, mfa, ...(webhooks ? { webhooks } : {}) };
    log()[integrations.failed + mfa.failed + (webhooks?.failed ?? 0) > 0 ? 'error' : 'info'](report, 'key re-seal pass');
    return report;
  }

  start(firstRunMs = 10_000): void {
    this.periodic.start(firstRunMs);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
