import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isoTime, uuid } from './fields';

/**
 * Durable AML/CTF facts between treasury and compliance (#11), as outbox jobs (they exist if and
 * only if the change they describe commits), like lib/events/tax-facts.ts:
 * - `aml` queue, `aml.operation`: treasury tells compliance's monitoring about a revenue-driven or
 *   manual purchase, a refund of revenue, a sale or a withdrawal (amount in AUD cents, the destination of a withdrawal).
 * - `kyb` queue, `kyb.status`: compliance tells treasury a tenant's KYB verification status, which
 *   treasury keeps as its own copy for the trading gate (it never reads compliance's tables).
 */

export const AML_QUEUE = 'aml' as const;
export const AML_OPERATION_JOB = 'aml.operation' as const;
export const KYB_QUEUE = 'kyb' as const;
export const KYB_STATUS_JOB = 'kyb.status' as const;

const cents = z.string().regex(/^(0|[1-9][0-9]*)$/, 'not a non-negative integer');

export const AmlOperationFactV1 = z.object({
  version: z.literal(1),
  tenantId: uuid,
  /** The operation's id (purchase, sale, withdrawal or payment event id). */
  id: z.string().min(1).max(200),
  kind: z.enum(['REVENUE', 'REFUND', 'PURCHASE', 'SALE', 'WITHDRAWAL']),
  amountAudCents: cents,
  at: isoTime,
  destination: z.object({ address: z.string().min(1).max(200), network: z.enum(['bitcoin', 'bitcoin-testnet']) }).nullable().optional(),
});
export type AmlOperationFact = z.infer<typeof AmlOperationFactV1>;

export const KYB_STATUSES = ['PENDING', 'VERIFIED', 'REJECTED', 'NEEDS_INFO'] as const;

/** A tenant's KYB verification status changed; `seq` orders changes (an older one never overwrites a newer). */
export const KybStatusChangedV1 = z.object({
  __typename: z.literal('KybStatusChanged'),
  version: z.literal(1),
  tenantId: uuid,
  status: z.enum(KYB_STATUSES),
  seq: z.number().int().positive(),
  at: isoTime,
});
export type KybStatusChanged = z.infer<typeof KybStatusChangedV1>;

/**
 * The outbox message of one operation fact, validated before it is written: the job id comes from
 * the operation's id, so a fact written twice (a retried transaction, a redelivered job) runs once.
 */
export function amlOperationMessage(fact: AmlOperationFact): { queue: typeof AML_QUEUE; jobName: typeof AML_OPERATION_JOB; payload: AmlOperationFact; id: string } {
  const payload = AmlOperationFactV1.parse(fact);
  return { queue: AML_QUEUE, jobName: AML_OPERATION_JOB, payload, id: amlFactJobId(AML_OPERATION_JOB, payload.id) };
}

/** The outbox/job id of a fact: a UUID (v5 layout) of SHA-256 over the job name and the fact's key. */
export function amlFactJobId(jobName: typeof AML_OPERATION_JOB | typeof KYB_STATUS_JOB, key: string): string {
  const h = createHash('sha256').update(`${jobName}:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
