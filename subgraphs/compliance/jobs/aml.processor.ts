import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { AML_OPERATION_JOB, AmlOperationFactV1 } from '../../../lib/events/aml-facts';
import { log } from '../../../lib/logger';
import type { JobInfo } from '../../../lib/queue';
import type { EventBus } from '../../../lib/bus';
import { AML_ALERT_PUBLISH_JOB, publishAlertEvent } from '../aml/alert-feed';
import { loadMonitoringConfig } from '../aml/monitoring-config.store';
import { monitorOperation } from '../aml/monitoring.service';
import { loadScreeningList, type ScreeningList } from '../aml/screening-list';

/**
 * `aml` queue (#11): treasury's operation facts (lib/events/aml-facts.ts) through the monitoring
 * rules, each once by its id, in the tenant's transaction. The screening list is the repository
 * file (aml/screening-list.csv), loaded once; a malformed list fails the job loudly. The rules run
 * with the operator's settings (public.aml_monitoring_rule over DEFAULT_MONITORING_CONFIG).
 * `aml.alert.publish`: an alert the monitoring or the SMR clock raised, onto the officer's channel.
 */
export function amlProcessor(tenants: TenantTransactions, bus?: EventBus, screening: () => Promise<ScreeningList> = () => loadScreeningList()) {
  let list: Promise<ScreeningList> | null = null;
  return async (job: JobInfo): Promise<void> => {
    if (job.name === AML_ALERT_PUBLISH_JOB) {
      if (!bus) throw new Error('aml queue: no event bus to publish alerts on');
      const e = await publishAlertEvent(bus, job.data);
      log().info({ tenantId: e.tenantId, caseId: e.caseId, kind: e.kind }, 'compliance alert published');
      return;
    }
    if (job.name !== AML_OPERATION_JOB) throw new Error(`aml queue: unknown job ${job.name}`);
    const fact = AmlOperationFactV1.parse(job.data);
    list ??= screening();
    const screeningList = await list;
    const { recorded, alerts } = await tenants.run(fact.tenantId, async (tx) => {
      // The operator's rule settings as they are now (a platform table, one small read per operation).
      const { config } = await loadMonitoringConfig(tx.em);
      return monitorOperation(tx, fact, { config, screeningList });
    });
    log().info({ operationId: fact.id, kind: fact.kind, recorded, alerts: alerts.map((a) => a.rule) }, 'aml monitoring');
  };
}
