import { NOTICE_JOB, NoticeV1, type NoticeSink } from '../../../lib/events/notices';
import type { JobHandler } from '../../../lib/queue';
import { log } from '../../../lib/logger';

/**
 * The `notifications` queue: each `notice` job is handed to every sink. A sink that fails does not
 * keep the others from theirs; the job then fails and is retried, and each sink (idempotent on
 * notice.id) redoes only what it had not done.
 */
export function noticesProcessor(sinks: readonly NoticeSink[]): JobHandler {
  return async (job) => {
    if (job.name !== NOTICE_JOB) throw new Error(`notifications queue: unknown job ${job.name}`);
    const notice = NoticeV1.parse(job.data);
    const failures: string[] = [];
    for (const sink of sinks) {
      try {
        await sink.handle(notice);
      } catch (err) {
        failures.push(`${sink.name}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`notice ${notice.id} (${notice.type}): ${failures.join('; ')}`);
    log().debug({ tenantId: notice.tenantId, noticeId: notice.id, type: notice.type }, 'notice delivered');
  };
}
