import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../lib/config';
import { at, present } from '../helpers/present';

/** docker-compose.yml runs each role in its own container: the webhook address must be the gateway's, for every role alike. */
describe('docker-compose.yml', () => {
  type Service = { environment?: Record<string, string>; ports?: string[]; command?: string[] };
  const compose = parse(readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  const service = (name: string): Service => present(compose.services[name], `docker-compose service ${name}`);
  /** `${VAR:-default}` as compose reads it with VAR unset. */
  const unset = (v: string): string => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'x');

  it('gives every role the gateway’s published address as PUBLIC_WEBHOOK_BASE_URL, never a bind address', () => {
    const roles = ['tenant', 'treasury', 'market-price', 'compliance', 'workers', 'gateway'];
    const bases = roles.map((r) => unset(service(r).environment?.PUBLIC_WEBHOOK_BASE_URL ?? ''));
    expect(new Set(bases).size).toBe(1);
    const first = at(bases, 0, 'bases');
    const base = new URL(first);
    expect(base.hostname).not.toBe('0.0.0.0');
    const published = service('gateway').ports?.map((p) => at(p.split(':'), 0));
    expect(published).toContain(base.port);
    expect(loadConfig({ PUBLIC_WEBHOOK_BASE_URL: first }).publicWebhookBaseUrl).toBe(first);
  });
});
