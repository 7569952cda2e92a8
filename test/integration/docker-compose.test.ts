import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../lib/config';

/** docker-compose.yml runs each role in its own container: the webhook address must be the gateway's, for every role alike. */
describe('docker-compose.yml', () => {
  type Service = { environment?: Record<string, string>; ports?: string[]; command?: string[] };
  const compose = parse(readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  /** `${VAR:-default}` as compose reads it with VAR unset. */
  const unset = (v: string): string => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'x');

  it('gives every role the gateway’s published address as PUBLIC_WEBHOOK_BASE_URL, never a bind address', () => {
    const roles = ['tenant', 'treasury', 'market-price', 'compliance', 'workers', 'gateway'];
    const bases = roles.map((r) => unset(compose.services[r].environment?.PUBLIC_WEBHOOK_BASE_URL ?? ''));
    expect(new Set(bases).size).toBe(1);
    const base = new URL(bases[0]);
    expect(base.hostname).not.toBe('0.0.0.0');
    const published = compose.services.gateway.ports?.map((p) => p.split(':')[0]);
    expect(published).toContain(base.port);
    expect(loadConfig({ PUBLIC_WEBHOOK_BASE_URL: bases[0] }).publicWebhookBaseUrl).toBe(bases[0]);
  });
});
