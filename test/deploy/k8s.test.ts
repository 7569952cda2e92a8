import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1beta1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { at, present } from '../helpers/present';
import { kustomize, matchesSelector, repoPath, strategicMerge, type Json, type K8sObject } from './kustomize';

/** Each kind we ship, checked by kubernetes-models' validators (ajv, compiled from the Kubernetes OpenAPI schemas). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'external-secrets.io/v1beta1/ExternalSecret': ExternalSecret,
};

const APP_ROLES = { gateway: 4000, tenant: 4001, treasury: 4002, 'market-price': 4003, compliance: 4004 } as const;
const ROLES = { ...APP_ROLES, workers: 4010 } as const;
const ENVS = ['staging', 'production'] as const;

type Probe = { httpGet: { path: string; port: string } };
type Container = {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  ports?: { name: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
};
type PodSpec = { containers: Container[] };
type DeploymentObj = K8sObject & {
  spec: { replicas: number; strategy: { type: string; rollingUpdate: { maxUnavailable: number } }; template: { spec: PodSpec } };
};
type HpaObj = K8sObject & {
  spec: {
    minReplicas: number;
    maxReplicas: number;
    scaleTargetRef: { kind: string; name: string };
    metrics: { type: string; resource: { name: string; target: { type: string; averageUtilization: number } } }[];
  };
};
type PeerObj = { ipBlock?: { cidr: string }; podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> } };
type PolicyObj = K8sObject & {
  spec: {
    podSelector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
    policyTypes: string[];
    ingress?: { from: PeerObj[]; ports: { port: number }[] }[];
  };
};

const rendered = Object.fromEntries(ENVS.map((env) => [env, kustomize(repoPath('ops/k8s/overlays', env))])) as Record<(typeof ENVS)[number], K8sObject[]>;
const find = <T extends K8sObject>(objs: K8sObject[], kind: string, name: string): T => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o as T;
};
/** The variable names lib/config.ts reads (keys of its zod EnvSchema). */
const configNames = new Set([...readFileSync(repoPath('lib/config.ts'), 'utf8').matchAll(/^ {2}([A-Z][A-Z0-9_]+): (?:z\s*\.|port\()/gm)].map((m) => m[1]));

describe('the kustomize subset the tests render with', () => {
  it('merges containers and env by name, replaces other lists, deletes with null', () => {
    const base: Json = { spec: { containers: [{ name: 'a', env: [{ name: 'X', value: '1' }], args: ['x'] }], drop: 1 } };
    const patch: Json = { spec: { containers: [{ name: 'a', env: [{ name: 'Y', value: '2' }], args: ['y'] }, { name: 'b' }], drop: null } };
    expect(strategicMerge(base, patch)).toEqual({
      spec: {
        containers: [
          { name: 'a', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }], args: ['y'] },
          { name: 'b' },
        ],
      },
    });
  });
  it('reads label selectors like the API server', () => {
    expect(matchesSelector({ c: 'workers' }, 'c notin (workers)')).toBe(false);
    expect(matchesSelector({ c: 'tenant' }, 'c notin (workers),c')).toBe(true);
    expect(matchesSelector({ c: 'tenant' }, 'c in (a, tenant)')).toBe(true);
    expect(matchesSelector({ c: 'tenant' }, 'c=workers')).toBe(false);
  });

  // The real kustomize (kubectl kustomize) is on some machines only; where it is, both must agree.
  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (kubectl ? it.each(ENVS) : it.skip.each(ENVS))('renders %s exactly as kubectl kustomize does', (env) => {
    const out = execFileSync('kubectl', ['kustomize', repoPath('ops/k8s/overlays', env)], { encoding: 'utf8' });
    const real = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
    const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
    const sorted = (list: K8sObject[]): K8sObject[] => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sorted(rendered[env])).toEqual(sorted(real));
  });
});

describe.each(ENVS)('ops/k8s/overlays/%s', (env) => {
  const objs = rendered[env];

  it('every object is valid against the Kubernetes schemas', () => {
    expect(objs.length).toBeGreaterThan(30);
    for (const obj of objs) {
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      if (!Model) throw new Error(`${obj.apiVersion} ${obj.kind} has no schema here`);
      expect(() => new Model(obj as never).validate()).not.toThrow();
      expect(obj.metadata.namespace).toBe(`liquid-abt-${env}`);
    }
  });

  it('the validator does catch a broken manifest', () => {
    const d = structuredClone(find<DeploymentObj>(objs, 'Deployment', 'gateway'));
    (d.spec as unknown as { replicas: unknown }).replicas = 'two';
    expect(() => new Deployment(d as never).validate()).toThrow(/replicas/);
  });

  it.each(Object.entries(ROLES))('%s: one image, its role, port, probes on lib/http.ts paths, rolling with none unavailable', (role, port) => {
    const d = find<DeploymentObj>(objs, 'Deployment', role);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const c = at(d.spec.template.spec.containers, 0, 'containers');
    expect(c.image).toBe(`000000000000.dkr.ecr.ap-southeast-2.amazonaws.com/liquid-abt:${env}`);
    expect(c.args).toEqual([role]);
    expect(c.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/api/health', port: 'http' });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/api/health', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/api/ready', port: 'http' });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    const svc = find<K8sObject & { spec: { ports: { port: number }[] } }>(objs, 'Service', role);
    expect(svc.spec.ports.map((p) => p.port)).toEqual([port]);
  });

  it('the probe paths are the ones lib/http.ts serves', () => {
    const http = readFileSync(repoPath('lib/http.ts'), 'utf8');
    expect(http).toContain("app.get('/api/health'");
    expect(http).toContain("app.get('/api/ready'");
  });

  it('resources: the design numbers (app 256–512 Mi / 250–500 m, workers 512 Mi–1 Gi / 500–1000 m)', () => {
    const requests = (role: string): Record<string, string> => at(find<DeploymentObj>(objs, 'Deployment', role).spec.template.spec.containers, 0, 'containers').resources.requests;
    const limits = (role: string): Record<string, string> => at(find<DeploymentObj>(objs, 'Deployment', role).spec.template.spec.containers, 0, 'containers').resources.limits;
    for (const role of Object.keys(APP_ROLES)) {
      expect(limits(role)).toEqual({ memory: '512Mi', cpu: '500m' });
      expect(requests(role)).toEqual({ memory: '256Mi', cpu: '250m' });
    }
    expect(limits('workers')).toEqual({ memory: '1Gi', cpu: '1000m' });
    expect(requests('workers')).toEqual(env === 'production' ? { memory: '512Mi', cpu: '500m' } : { memory: '256Mi', cpu: '250m' });
  });

  it('HPAs: app 2–10 and workers 3–6 in production (staging smaller), on CPU 70% and memory 80%', () => {
    for (const role of Object.keys(ROLES)) {
      const h = find<HpaObj>(objs, 'HorizontalPodAutoscaler', role);
      const d = find<DeploymentObj>(objs, 'Deployment', role);
      expect(h.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: role });
      expect(h.spec.metrics.map((m) => [m.resource.name, m.resource.target])).toEqual([
        ['cpu', { type: 'Utilization', averageUtilization: 70 }],
        ['memory', { type: 'Utilization', averageUtilization: 80 }],
      ]);
      const expected =
        env === 'production'
          ? role === 'workers'
            ? [3, 6]
            : [role === 'gateway' ? 3 : 2, 10]
          : role === 'workers'
            ? [1, 2]
            : [1, 3];
      expect([h.spec.minReplicas, h.spec.maxReplicas]).toEqual(expected);
      // The Deployment starts at the autoscaler's floor.
      expect(d.spec.replicas).toBe(h.spec.minReplicas);
      const pdb = find<K8sObject & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } }>(objs, 'PodDisruptionBudget', role);
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'liquid-abt', 'app.kubernetes.io/component': role });
    }
  });

  it('secrets only by reference, env names are lib/config.ts names, exchange credentials only where orders are placed', () => {
    const config = find<K8sObject & { data: Record<string, string> }>(objs, 'ConfigMap', 'liquid-abt-config');
    for (const name of Object.keys(config.data)) expect(configNames).toContain(name);
    expect(config.data.SEED_DEMO).toBe('false');
    expect(objs.filter((o) => o.kind === 'Secret')).toEqual([]);
    const secretNames = new Set<string>();
    for (const role of Object.keys(ROLES)) {
      const c = at(find<DeploymentObj>(objs, 'Deployment', role).spec.template.spec.containers, 0, 'containers');
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'liquid-abt-config' } }]);
      for (const e of c.env ?? []) {
        expect(configNames).toContain(e.name);
        expect(e.value).toBeUndefined();
        expect(e.valueFrom?.secretKeyRef).toMatchObject({ name: 'liquid-abt-secrets', key: e.name });
        secretNames.add(e.name);
      }
      const hasExchangeKeys = (c.env ?? []).some((e) => e.name.startsWith('KRAKEN_'));
      expect(hasExchangeKeys).toBe(role === 'treasury' || role === 'workers');
    }
    expect([...secretNames].sort()).toEqual(
      expect.arrayContaining(['APP_DB_PASSWORD', 'DATABASE_URL', 'GATEWAY_SECRET', 'INTEGRATION_KEYS', 'JWT_KEYS', 'REDIS_URL']),
    );
    const es = find<K8sObject & { spec: { target: { name: string }; dataFrom: { extract: { key: string } }[] } }>(objs, 'ExternalSecret', 'liquid-abt-secrets');
    expect(es.spec.target.name).toBe('liquid-abt-secrets');
    expect(es.spec.dataFrom).toEqual([{ extract: { key: `liquid-abt/${env}/app` } }]);
  });

  it('the migration Job runs npm run migrate with the owner connection, once, before the roles', () => {
    const job = find<K8sObject & { spec: { backoffLimit: number; template: { spec: PodSpec & { restartPolicy: string } } } }>(objs, 'Job', 'migrate');
    const c = at(job.spec.template.spec.containers, 0, 'containers');
    expect(c.command).toEqual(['npm', 'run', 'migrate']);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(c.image).toContain(`liquid-abt:${env}`);
    expect((c.env ?? []).filter((e) => e.valueFrom).map((e) => e.name)).toEqual(['DATABASE_URL', 'APP_DB_PASSWORD']);
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.migrate).toContain('ops/migrate.ts');
  });

  it('the backup CronJob runs npm run backup every 30 min (RPO ≤ 30 min + one dump), one at a time, owner connection by reference, into the env backups bucket', () => {
    type CronObj = K8sObject & {
      spec: {
        schedule: string;
        timeZone: string;
        concurrencyPolicy: string;
        jobTemplate: { spec: { activeDeadlineSeconds: number; template: { spec: PodSpec & { restartPolicy: string; automountServiceAccountToken: boolean; serviceAccountName: string } } } };
      };
    };
    const cron = find<CronObj>(objs, 'CronJob', 'backup');
    // Two runs an hour, 30 min apart: a minute list "m,m+30", every hour of every day.
    const [minute = '', hour, ...rest] = cron.spec.schedule.split(' ');
    const minutes = minute.split(',').map(Number);
    expect({ hour, rest }).toEqual({ hour: '*', rest: ['*', '*', '*'] });
    expect(minutes).toHaveLength(2);
    expect(minutes.every((m) => Number.isInteger(m) && m >= 0 && m < 60)).toBe(true);
    expect(at(minutes, 1, 'minutes') - at(minutes, 0, 'minutes')).toBe(30);
    expect(cron.spec.timeZone).toBe('Etc/UTC');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    // A run ends before the next one is due.
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBeLessThan(30 * 60);
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    // Its own service account, bound to the backup IAM role (IRSA); no other pod runs as it.
    expect(pod.serviceAccountName).toBe('liquid-abt-backup');
    const sa = find<K8sObject & { automountServiceAccountToken: boolean }>(objs, 'ServiceAccount', 'liquid-abt-backup');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe(`arn:aws:iam::000000000000:role/liquid-abt-${env}-backup`);
    expect(sa.automountServiceAccountToken).toBe(false);
    const podSpecs = objs.flatMap((o) => {
      const spec = o.spec as { template?: { spec?: { serviceAccountName?: string } }; jobTemplate?: { spec: { template: { spec: { serviceAccountName?: string } } } } } | undefined;
      const podSpec = spec?.template?.spec ?? spec?.jobTemplate?.spec.template.spec;
      return podSpec ? [[`${o.kind}/${o.metadata.name}`, podSpec.serviceAccountName] as const] : [];
    });
    expect(podSpecs.filter(([, n]) => n === 'liquid-abt-backup').map(([k]) => k)).toEqual(['CronJob/backup']);
    const c = at(pod.containers, 0, 'containers');
    expect(c.command).toEqual(['npm', 'run', 'backup']);
    expect(c.image).toBe(`000000000000.dkr.ecr.ap-southeast-2.amazonaws.com/liquid-abt:${env}`);
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'liquid-abt-config' } }]);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    for (const e of c.env ?? []) {
      if (e.valueFrom) expect(e.valueFrom.secretKeyRef).toEqual({ name: 'liquid-abt-secrets', key: e.name });
      if (!e.name.startsWith('NPM_CONFIG_')) expect(configNames).toContain(e.name);
    }
    expect((c.env ?? []).filter((e) => e.valueFrom).map((e) => e.name)).toEqual(['DATABASE_URL']);
    expect((c.env ?? []).find((e) => e.name === 'OBJECT_STORE')?.value).toBe('s3');
    const config = find<K8sObject & { data: Record<string, string> }>(objs, 'ConfigMap', 'liquid-abt-config');
    expect(config.data.BACKUP_S3_BUCKET).toBe(`liquid-abt-${env}-backups`);
    expect(Number(config.data.BACKUP_KEEP)).toBeGreaterThanOrEqual(7);
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.backup).toContain('ops/backup.ts backup');
    expect(pkg.scripts.restore).toContain('ops/backup.ts restore');
  });

  it('network: deny by default; gateway only from the load balancer subnets; subgraphs only from the gateway; workers only scraped', () => {
    const policies = objs.filter((o): o is PolicyObj => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny-ingress')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const monitoring = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };

    const gw = policies.find((p) => p.metadata.name === 'gateway-from-load-balancer')!;
    expect(gw.spec.podSelector.matchLabels?.['app.kubernetes.io/component']).toBe('gateway');
    expect(gw.spec.ingress).toEqual([
      { from: [{ ipBlock: { cidr: '10.0.0.0/24' } }, { ipBlock: { cidr: '10.0.1.0/24' } }, { ipBlock: { cidr: '10.0.2.0/24' } }, monitoring], ports: [{ port: 4000, protocol: 'TCP' }] },
    ]);

    const sg = policies.find((p) => p.metadata.name === 'subgraphs-from-gateway')!;
    expect(sg.spec.podSelector.matchExpressions).toEqual([
      { key: 'app.kubernetes.io/component', operator: 'In', values: ['tenant', 'treasury', 'market-price', 'compliance'] },
    ]);
    expect(sg.spec.ingress).toHaveLength(1);
    expect(at(present(sg.spec.ingress, 'subgraphs ingress'), 0, 'subgraphs ingress').from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'liquid-abt', 'app.kubernetes.io/component': 'gateway' } } }, monitoring]);

    const wk = policies.find((p) => p.metadata.name === 'workers-metrics-only')!;
    expect(wk.spec.ingress).toEqual([{ from: [monitoring], ports: [{ port: 4010, protocol: 'TCP' }] }]);

    // No other policy lets anything in.
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['default-deny-ingress', 'gateway-from-load-balancer', 'subgraphs-from-gateway', 'workers-metrics-only']);
  });

  it('the load balancer listens on HTTPS 443 only and routes to the gateway', () => {
    const ing = find<K8sObject & { spec: { rules: { http: { paths: { backend: { service: { name: string } } }[] } }[] } }>(objs, 'Ingress', 'gateway');
    expect(ing.metadata.annotations?.['alb.ingress.kubernetes.io/listen-ports']).toBe('[{"HTTPS":443}]');
    expect(ing.metadata.annotations?.['alb.ingress.kubernetes.io/certificate-arn']).toContain(env);
    expect(ing.metadata.annotations?.['alb.ingress.kubernetes.io/load-balancer-attributes']).toContain(`access_logs.s3.bucket=liquid-abt-${env}-logs`);
    expect(ing.spec.rules.flatMap((r) => r.http.paths.map((p) => p.backend.service.name))).toEqual(['gateway']);
  });
});
