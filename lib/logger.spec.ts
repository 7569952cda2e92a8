import { captureLogs } from '../test/helpers/logs';
import { configureLogger, log } from './logger';

describe('log lines', () => {
  afterAll(() => configureLogger('silent'));

  it('carry only their own fields: nothing of an earlier line (another request, another tenant) leaks into the next', () => {
    const lines: string[] = [];
    captureLogs(lines);
    log().info({ tenantId: 'tenant-a', operation: 'first' }, 'one');
    log().info({ other: 1 }, 'two');
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ tenantId: 'tenant-a', operation: 'first', msg: 'one' });
    expect(second).toMatchObject({ other: 1, msg: 'two' });
    expect(second).not.toHaveProperty('tenantId');
    expect(second).not.toHaveProperty('operation');
  });
});
