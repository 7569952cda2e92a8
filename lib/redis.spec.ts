import { bullPrefix, isClusterUrl, parseRedisUrl } from './redis';

describe('REDIS_URL: one node or a Redis Cluster', () => {
  it('leaves redis:// and rediss:// a single node, with BullMQ prefixes unchanged', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'node', url: 'redis://127.0.0.1:6379/2' });
    expect(isClusterUrl('rediss://u:p@cache.example:6380')).toBe(false);
    expect(bullPrefix('redis://127.0.0.1:6379', 'abt', 'purchases')).toBe('abt');
  });

  it('reads redis+cluster:// seeds, credentials and TLS, and hash-tags each queue', () => {
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@10.0.0.1:7000?nodes=10.0.0.2:7001,10.0.0.3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '10.0.0.3', port: 6379 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(bullPrefix('redis+cluster://127.0.0.1:7000', 'abt', 'payment-events')).toBe('abt:{payment-events}');
  });

  it('refuses a malformed extra seed', () => {
    expect(() => parseRedisUrl('redis+cluster://127.0.0.1:7000?nodes=10.0.0.2:notaport')).toThrow(/bad Redis Cluster node/);
  });
});
