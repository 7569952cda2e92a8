import type { JobInfo } from '../lib/queue';

/** A required string field of a job's payload; a malformed job fails loudly instead of doing half its work. */
export function jobString(job: JobInfo, key: string): string {
  const v = job.data[key];
  if (typeof v !== 'string' || v.length === 0) throw new Error(`job ${job.id} lacks ${key}`);
  return v;
}
