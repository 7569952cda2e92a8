import dns from 'node:dns';
import net from 'node:net';
import { gql } from 'graphql-request';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * The platform talks to nothing but its own services unless configured to: no telemetry, no cloud
 * metadata probes (169.254.169.254, metadata.google.internal), no usage reporting. Every TCP connect
 * and DNS lookup made while the whole platform starts and serves a request is recorded; one that
 * would leave the machine is refused here, locally, so the test itself never sends such traffic.
 */
const loopback = (h: string): boolean => h === 'localhost' || h === '::1' || /^127\./.test(h) || h === '';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
describe('a running platform makes no connection off this machine', () => {
  const connects: string[] = [];
  const lookups: string[] = [];
  let platform: TestPlatform;
  const connect = net.Socket.prototype.connect;
  const lookup = dns.lookup;

  beforeAll(async () => {
    delete process.env.APOLLO_TELEMETRY_DISABLED;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const [first, second] = args as [unknown, unknown];
      const opts = typeof first === 'object' && first !== null ? (first as { host?: string; path?: string }) : { host: typeof second === 'string' ? second : undefined };
      if (!opts.path) connects.push(opts.host ?? 'localhost');
      if (!opts.path && !loopback(opts.host ?? 'localhost')) {
        process.nextTick(() => this.destroy(new Error(`blocked by test: connection to ${opts.host}`)));
        return this;
      }
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    };
    (dns as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
      lookups.push(hostname);
      if (!loopback(hostname)) {
        const cb = rest[rest.length - 1] as (err: NodeJS.ErrnoException) => void;
        const err: NodeJS.ErrnoException = new Error(`blocked by test: lookup of ${hostname}`);
        err.code = 'ENOTFOUND';
        process.nextTick(() => cb(err));
        return undefined;
      }
      return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
    };
    platform = await startTestPlatform({ redis: true });
  }, 180_000);
  afterAll(async () => {
    net.Socket.prototype.connect = connect;
    (dns as { lookup: unknown }).lookup = lookup;
    await platform?.stop();
  });

  it('connects only to loopback and resolves no outside name, at start and while serving', async () => {
    const res = await client(platform.gateway).request<{ btcPrice: { source: string } | null }>(gql`{ btcPrice { source } }`);
    expect(res.btcPrice === null || typeof res.btcPrice.source === 'string').toBe(true);
    // Cloud resource detectors and exporters start asynchronously after construction.
    await sleep(3000);
    expect(connects.length).toBeGreaterThan(0);
    expect(connects.filter((h) => !loopback(h))).toEqual([]);
    expect(lookups.filter((h) => !loopback(h))).toEqual([]);
  });
});
