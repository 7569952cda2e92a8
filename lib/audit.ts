import type { EntityManager } from '@mikro-orm/postgresql';
import { addToOutbox } from './outbox';

/** One fact for the tenant's audit chain. `data` must be JSON (bigints as strings). */
export type AuditRecord = {
  eventType: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  data: Record<string, unknown>;
};

/**
 * Records an audit fact in the caller's transaction (via the outbox): it reaches the compliance
 * chain if and only if the change commits. Returns the audit event id.
 */
export async function recordAudit(em: EntityManager, rec: AuditRecord): Promise<string> {
  return addToOutbox(em, {
    queue: 'audit',
    jobName: 'append',
    payload: { ...rec, occurredAt: new Date().toISOString() },
  });
}
