import { noticeId, type Notice, type NoticeSink } from '../../../lib/events/notices';
import { noticesProcessor } from './notices.processor';

const notice: Notice = {
  version: 1,
  id: noticeId('purchase.failed', 'p-1:FAILED'),
  tenantId: '11111111-2222-4333-8444-555555555555',
  type: 'purchase.failed',
  occurredAt: '2026-12-03T09:30:00.000Z',
  subjectId: 'p-1',
  data: { amountAudCents: '5000', filledSats: '0', exchange: null, status: 'FAILED' },
};
const job = (data: Record<string, unknown>, name = 'notice') => ({ id: 'j', name, data, attempt: 1 });

const sink = (name: string, fail = false): NoticeSink & { seen: Notice[] } => {
  const seen: Notice[] = [];
  return {
    name,
    seen,
    handle: (n) => {
      seen.push(n);
      return fail ? Promise.reject(new Error(`${name} is down`)) : Promise.resolve();
    },
  };
};

describe('the notices processor', () => {
  it('hands a notice to every sink', async () => {
    const [a, b] = [sink('email'), sink('webhooks')];
    await noticesProcessor([a, b])(job(notice));
    expect([a.seen, b.seen]).toEqual([[notice], [notice]]);
  });

  it('a failing sink does not keep the others from theirs; the job fails so it is retried', async () => {
    const [a, b] = [sink('email', true), sink('webhooks')];
    await expect(noticesProcessor([a, b])(job(notice))).rejects.toThrow(/email: email is down/);
    expect(b.seen).toEqual([notice]);
  });

  it('refuses a job that is not a NoticeV1 (or another job name) before any sink sees it', async () => {
    const a = sink('email');
    await expect(noticesProcessor([a])(job({ ...notice, version: 2 }))).rejects.toThrow();
    await expect(noticesProcessor([a])(job({ ...notice, tenantId: 'not-a-uuid' }))).rejects.toThrow();
    await expect(noticesProcessor([a])(job(notice, 'other'))).rejects.toThrow(/unknown job other/);
    expect(a.seen).toEqual([]);
  });
});
