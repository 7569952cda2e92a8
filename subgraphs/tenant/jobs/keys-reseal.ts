import { log, withCorrelation } from '../../../lib/logger';
import type { IntegrationService, ResealReport } from '../payments/integration.service';
import type { MfaService } from '../identity/mfa.service';

export type KeyMaintenanceOptions = {
  integrations: Pick<IntegrationService, 'resealCredentials'>;
  mfa: Pick<MfaService, 'resealSecrets'>;
  /** Embedded mode: replaces generated keys older than the rotation period (in place, for this process's rings) first. */
  rotate?: () => string[];
  intervalMs: number;
};

export type KeyMaintenanceReport = { rotated: string[]; integrations: ResealReport; mfa: { resealed: number; failed: number } };

/**
 * The workers' key job: (embedded) rotate generated keys that are due, then re-seal every
 * integration credential and MFA secret not under the current key. Runs shortly after start and
 * then every `intervalMs` (daily by default); also `npm run keys:reseal`. Logs counts, never values.
 */
export class KeyMaintenance {
  readonly name = 'key-maintenance';
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(private readonly opts: KeyMaintenanceOptions) {}

  async runOnce(): Promise<KeyMaintenanceReport> {
    const rotated = this.opts.rotate?.() ?? [];
    if (rotated.length) log().info({ rotated }, 'generated keys rotated; old keys kept for verification and opening');
    const integrations = await this.opts.integrations.resealCredentials();
    const mfa = await this.opts.mfa.resealSecrets();
    const report = { rotated, integrations, mfa };
    log()[integrations.failed + mfa.failed > 0 ? 'error' : 'info'](report, 'key re-seal pass');
    return report;
  }

  start(firstRunMs = 10_000): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.running = withCorrelation('keys-reseal', {}, () => this.runOnce())
        .catch((err: Error) => log().warn({ err: err.message }, 'key re-seal pass failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs);
        });
    };
    this.timer = setTimeout(loop, Math.min(firstRunMs, this.opts.intervalMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
