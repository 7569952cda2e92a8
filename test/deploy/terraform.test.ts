import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { at, present } from '../helpers/present';
import { kustomize, repoPath } from './kustomize';

// Loaded untyped: its declarations pull in the DOM lib, which would retype fetch for the whole project.
const { parse } = createRequire(__filename)('@cdktf/hcl2json') as { parse: (file: string, hcl: string) => Promise<unknown> };

/** ops/terraform parsed by HashiCorp's HCL parser (Go, compiled to wasm in @cdktf/hcl2json), no provider needed. */
type Block = Record<string, unknown>;
type Tf = {
  terraform?: Block[];
  variable?: Record<string, Block[]>;
  resource?: Record<string, Record<string, Block[]>>;
  module?: Record<string, Block[]>;
  data?: Record<string, Record<string, Block[]>>;
};

const TF = repoPath('ops/terraform');

async function parseDir(dir: string): Promise<Tf> {
  const out: Tf = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf')).sort()) {
    const json = (await parse(file, readFileSync(join(dir, file), 'utf8'))) as Record<string, unknown>;
    for (const [section, value] of Object.entries(json)) {
      const into = ((out as Record<string, unknown>)[section] ??= Array.isArray(value) ? [] : {}) as Record<string, unknown> | unknown[];
      if (Array.isArray(into)) into.push(...(value as unknown[]));
      else {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (section === 'resource' || section === 'data') into[k] = { ...(into[k] as object | undefined), ...(v as object) };
          else if (k in into) throw new Error(`${file}: ${section}.${k} defined twice`);
          else into[k] = v;
        }
      }
    }
  }
  return out;
}

async function parseTfvars(env: string): Promise<Record<string, unknown>> {
  return (await parse(`${env}.tfvars`, readFileSync(join(TF, 'environments', `${env}.tfvars`), 'utf8'))) as Record<string, unknown>;
}

let root: Tf;
let bucketModule: Tf;
const one = (tf: Tf, type: string, name: string): Block => {
  const b = tf.resource?.[type]?.[name]?.[0];
  if (!b) throw new Error(`no ${type}.${name}`);
  return b;
};
const all = (tf: Tf, type: string): [string, Block][] => Object.entries(tf.resource?.[type] ?? {}).map(([n, bs]) => [n, at(bs, 0, `${type}.${n}`)]);
const firstBlock = (b: Block, key: string): Block => at(b[key] as Block[], 0, key);
const defaultOf = (name: string): unknown => root.variable?.[name]?.[0]?.default;

beforeAll(async () => {
  root = await parseDir(TF);
  bucketModule = await parseDir(join(TF, 'modules/private-bucket'));
});

describe('ops/terraform', () => {
  it('parses, and is formatted (terraform fmt, where terraform is installed)', () => {
    expect(Object.keys(root.resource ?? {}).length).toBeGreaterThan(20);
    let hasTerraform = true;
    try {
      execFileSync('terraform', ['version'], { stdio: 'ignore' });
    } catch {
      hasTerraform = false;
    }
    if (hasTerraform) execFileSync('terraform', ['fmt', '-check', '-recursive', TF], { stdio: 'pipe' });
  });

  it('VPC and subnets: three zones, public / app / data tiers; the data tier has no route out', () => {
    expect(one(root, 'aws_vpc', 'main').cidr_block).toBe('${var.vpc_cidr}');
    expect(defaultOf('vpc_cidr')).toBe('10.0.0.0/16');
    expect(defaultOf('availability_zones')).toEqual(['ap-southeast-2a', 'ap-southeast-2b', 'ap-southeast-2c']);
    expect(defaultOf('public_subnet_cidrs')).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
    expect(defaultOf('app_subnet_cidrs')).toEqual(['10.0.16.0/20', '10.0.32.0/20', '10.0.48.0/20']);
    expect(defaultOf('data_subnet_cidrs')).toEqual(['10.0.64.0/24', '10.0.65.0/24', '10.0.66.0/24']);
    for (const tier of ['public', 'app', 'data']) {
      expect(one(root, 'aws_subnet', tier).cidr_block).toBe(`\${var.${tier}_subnet_cidrs[count.index]}`);
    }
    expect(one(root, 'aws_subnet', 'public').map_public_ip_on_launch).toBe(false);
    expect(one(root, 'aws_route_table', 'data').route).toBeUndefined();
    expect(firstBlock(one(root, 'aws_route_table', 'app'), 'route').nat_gateway_id).toContain('aws_nat_gateway.main');
  });

  it('the gateway network policy lets in exactly the public subnets the load balancer lives in', async () => {
    for (const env of ['staging', 'production']) {
      const vars = await parseTfvars(env);
      const cidrs = (vars.public_subnet_cidrs as string[] | undefined) ?? defaultOf('public_subnet_cidrs');
      const policy = kustomize(repoPath('ops/k8s/overlays', env)).find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'gateway-from-load-balancer')!;
      const from = at((policy.spec as { ingress: { from: { ipBlock?: { cidr: string } }[] }[] }).ingress, 0, 'gateway ingress').from;
      expect(from.flatMap((p) => (p.ipBlock ? [p.ipBlock.cidr] : []))).toEqual(cidrs);
    }
  });

  it('security groups: only the load balancer is open to the internet, and only on 443', () => {
    // Rules are separate resources (no inline blocks), so every one is checked here.
    for (const [, sg] of all(root, 'aws_security_group')) {
      expect(sg.ingress).toBeUndefined();
      expect(sg.egress).toBeUndefined();
    }
    expect(all(root, 'aws_security_group_rule')).toEqual([]);
    const ingress = all(root, 'aws_vpc_security_group_ingress_rule');
    const open = ingress.filter(([, r]) => r.cidr_ipv4 !== undefined || r.cidr_ipv6 !== undefined || r.prefix_list_id !== undefined);
    expect(open.map(([n]) => n).sort()).toEqual(['lb_https_ipv4', 'lb_https_ipv6']);
    for (const [, r] of open) {
      expect(r).toMatchObject({ security_group_id: '${aws_security_group.lb.id}', ip_protocol: 'tcp', from_port: 443, to_port: 443 });
    }
    for (const [, r] of ingress.filter((e) => !open.includes(e))) expect(r.referenced_security_group_id).toMatch(/^\$\{aws_security_group\.\w+\.id\}$/);
    const rule = (n: string): Block => one(root, 'aws_vpc_security_group_ingress_rule', n);
    expect(rule('db_from_nodes')).toMatchObject({ security_group_id: '${aws_security_group.db.id}', from_port: 5432, to_port: 5432, referenced_security_group_id: '${aws_security_group.nodes.id}' });
    expect(rule('redis_from_nodes')).toMatchObject({ security_group_id: '${aws_security_group.redis.id}', from_port: 6379, to_port: 6379, referenced_security_group_id: '${aws_security_group.nodes.id}' });
    expect(rule('nodes_from_lb')).toMatchObject({ from_port: 4000, to_port: 4000, referenced_security_group_id: '${aws_security_group.lb.id}' });
    // Nothing else faces the internet: no public database, a Kubernetes API open only to the admin ranges.
    for (const [, db] of all(root, 'aws_db_instance')) expect(db.publicly_accessible).toBe(false);
    const vpc = firstBlock(one(root, 'aws_eks_cluster', 'main'), 'vpc_config');
    expect(vpc.public_access_cidrs).toBe('${var.admin_cidrs}');
    const adminCidrs = at(present(root.variable?.admin_cidrs, 'variable admin_cidrs'), 0, 'admin_cidrs');
    expect(JSON.stringify(adminCidrs.validation)).toContain('0.0.0.0/0');
    expect(adminCidrs.default).toBeUndefined();
  });

  it('EKS: secrets encrypted with KMS, nodes in the app subnets on encrypted disks with IMDSv2', () => {
    const eks = one(root, 'aws_eks_cluster', 'main');
    expect(firstBlock(eks, 'encryption_config').resources).toEqual(['secrets']);
    expect(firstBlock(firstBlock(eks, 'encryption_config'), 'provider').key_arn).toBe('${aws_kms_key.eks.arn}');
    expect(firstBlock(eks, 'vpc_config').subnet_ids).toBe('${aws_subnet.app[*].id}');
    expect(eks.enabled_cluster_log_types).toContain('audit');
    expect(one(root, 'aws_eks_node_group', 'main').subnet_ids).toBe('${aws_subnet.app[*].id}');
    const lt = one(root, 'aws_launch_template', 'nodes');
    expect(firstBlock(firstBlock(lt, 'block_device_mappings'), 'ebs')).toMatchObject({ encrypted: true, kms_key_id: '${aws_kms_key.data.arn}' });
    expect(firstBlock(lt, 'metadata_options').http_tokens).toBe('required');
  });

  it('RDS PostgreSQL: multi-AZ, encrypted, TLS forced, read replicas of the primary, backups kept', async () => {
    const p = one(root, 'aws_db_instance', 'primary');
    expect(p).toMatchObject({
      engine: 'postgres',
      multi_az: true,
      storage_encrypted: true,
      kms_key_id: '${aws_kms_key.data.arn}',
      performance_insights_kms_key_id: '${aws_kms_key.data.arn}',
      manage_master_user_password: true,
      deletion_protection: true,
      db_subnet_group_name: '${aws_db_subnet_group.main.name}',
    });
    expect(p.password).toBeUndefined();
    expect(p.backup_retention_period as number).toBeGreaterThanOrEqual(7);
    const r = one(root, 'aws_db_instance', 'replica');
    expect(r).toMatchObject({ count: '${var.db_read_replicas}', replicate_source_db: '${aws_db_instance.primary.identifier}', storage_encrypted: true, kms_key_id: '${aws_kms_key.data.arn}' });
    expect(defaultOf('db_read_replicas') as number).toBeGreaterThanOrEqual(1);
    for (const env of ['staging', 'production']) expect(((await parseTfvars(env)).db_read_replicas as number) ?? 1).toBeGreaterThanOrEqual(1);
    expect(one(root, 'aws_db_subnet_group', 'main').subnet_ids).toBe('${aws_subnet.data[*].id}');
    const params = one(root, 'aws_db_parameter_group', 'main').parameter as Block[];
    expect(params).toContainEqual({ name: 'rds.force_ssl', value: '1' });
  });

  it('ElastiCache Redis: TLS required in transit, KMS at rest, AUTH token, failover across zones', () => {
    expect(one(root, 'aws_elasticache_replication_group', 'main')).toMatchObject({
      transit_encryption_enabled: true,
      transit_encryption_mode: 'required',
      at_rest_encryption_enabled: true,
      kms_key_id: '${aws_kms_key.data.arn}',
      auth_token: '${random_password.redis_auth.result}',
      automatic_failover_enabled: true,
      multi_az_enabled: true,
      subnet_group_name: '${aws_elasticache_subnet_group.main.name}',
    });
  });

  it('the four S3 buckets: private, encrypted, TLS-only, versioned, with lifecycle; logs kept 7 years', () => {
    // No bucket outside the module that makes them private.
    expect(all(root, 'aws_s3_bucket')).toEqual([]);
    const calls = Object.entries(root.module ?? {}).filter(([, [m]]) => m?.source === './modules/private-bucket');
    expect(calls.map(([n]) => n).sort()).toEqual(['audit_bucket', 'backups_bucket', 'logs_bucket', 'reports_bucket']);
    const mod = (n: string): Block => at(present(root.module?.[n], `module ${n}`), 0, `module ${n}`);
    const SEVEN_YEARS_DAYS = Math.ceil(7 * 365.25);
    expect(mod('logs_bucket').retention_days as number).toBeGreaterThanOrEqual(SEVEN_YEARS_DAYS);
    expect(mod('logs_bucket').name).toBe('${local.name}-logs');
    expect(mod('reports_bucket').retention_days as number).toBeGreaterThanOrEqual(SEVEN_YEARS_DAYS);
    expect(mod('audit_bucket').object_lock_days as number).toBeGreaterThanOrEqual(SEVEN_YEARS_DAYS);
    // SSE-KMS everywhere but the log bucket, where load balancer delivery requires SSE-S3.
    for (const n of ['backups_bucket', 'reports_bucket', 'audit_bucket']) expect(mod(n).kms_key_arn).toBe('${aws_kms_key.data.arn}');
    expect(mod('logs_bucket').kms_key_arn).toBeNull();

    const m = bucketModule;
    expect(one(m, 'aws_s3_bucket_public_access_block', 'this')).toEqual({
      bucket: '${aws_s3_bucket.this.id}',
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    const sse = firstBlock(firstBlock(one(m, 'aws_s3_bucket_server_side_encryption_configuration', 'this'), 'rule'), 'apply_server_side_encryption_by_default');
    expect(sse.sse_algorithm).toBe('${var.kms_key_arn == null ? "AES256" : "aws:kms"}');
    expect(firstBlock(one(m, 'aws_s3_bucket_versioning', 'this'), 'versioning_configuration').status).toBe('Enabled');
    expect(firstBlock(one(m, 'aws_s3_bucket_ownership_controls', 'this'), 'rule').object_ownership).toBe('BucketOwnerEnforced');
    const rule = firstBlock(one(m, 'aws_s3_bucket_lifecycle_configuration', 'this'), 'rule');
    expect(rule.status).toBe('Enabled');
    expect(firstBlock(rule, 'expiration').days).toBe('${var.retention_days}');
    expect(firstBlock(rule, 'noncurrent_version_expiration').noncurrent_days).toBe('${var.retention_days}');
    const policy = String(one(m, 'aws_s3_bucket_policy', 'this').policy);
    expect(policy).toContain('"aws:SecureTransport" = "false"');
    expect(policy).toMatch(/Effect\s*=\s*"Deny"/);
    expect(one(m, 'aws_s3_bucket_object_lock_configuration', 'this').count).toBe('${var.object_lock_days > 0 ? 1 : 0}');
  });

  it('the backup job (IRSA) may only read, write and prune backups in the backups bucket, with the data key through S3', async () => {
    // Trust: only the liquid-abt-backup service account of this environment's namespace, via the cluster's OIDC issuer.
    const oidc = one(root, 'aws_iam_openid_connect_provider', 'eks');
    expect(oidc).toMatchObject({ url: '${aws_eks_cluster.main.identity[0].oidc[0].issuer}', client_id_list: ['sts.amazonaws.com'] });
    const role = one(root, 'aws_iam_role', 'backup');
    expect(role.name).toBe('${local.name}-backup');
    const trust = String(role.assume_role_policy);
    expect(trust).toContain('Federated = aws_iam_openid_connect_provider.eks.arn');
    expect(trust).toContain('Action    = "sts:AssumeRoleWithWebIdentity"');
    expect(trust).toContain('"${local.oidc_issuer_host}:sub" = local.backup_service_account');
    expect(trust).toContain('"${local.oidc_issuer_host}:aud" = "sts.amazonaws.com"');
    const locals = Object.assign({}, ...(root as { locals?: Block[] }).locals ?? []) as Record<string, string>;
    expect(locals.name).toBe('liquid-abt-${var.environment}');
    expect(locals.backup_service_account).toBe('system:serviceaccount:${local.name}:liquid-abt-backup');
    // …which is the namespace and service account the overlays run the CronJob under.
    for (const env of ['staging', 'production']) {
      const objs = kustomize(repoPath('ops/k8s/overlays', env));
      const cron = objs.find((o) => o.kind === 'CronJob' && o.metadata.name === 'backup');
      const podSpec = (cron?.spec as { jobTemplate: { spec: { template: { spec: { serviceAccountName: string } } } } }).jobTemplate.spec.template.spec;
      expect(`system:serviceaccount:${cron?.metadata.namespace ?? ''}:${podSpec.serviceAccountName}`).toBe(`system:serviceaccount:liquid-abt-${env}:liquid-abt-backup`);
      expect((await parseTfvars(env)).environment).toBe(env);
    }

    // Permissions: one inline policy, parsed statement by statement (HCL object syntax → JSON-ish).
    expect(all(root, 'aws_iam_role_policy').map(([n]) => n)).toEqual(['backup']);
    const attached = all(root, 'aws_iam_role_policy_attachment').filter(([, a]) => String(a.role).includes('aws_iam_role.backup'));
    expect(attached).toEqual([]);
    const policy = one(root, 'aws_iam_role_policy', 'backup');
    expect(policy.role).toBe('${aws_iam_role.backup.id}');
    const text = String(policy.policy);
    const statements = [...text.matchAll(/\{\s*#[^\n]*\n(?:\s*#[^\n]*\n)*([\s\S]*?)\n\s*\},/g)].map((m) => m[1] ?? '');
    const field = (st: string, key: string): string => (st.match(new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm'))?.[1] ?? '').trim();
    const bySid = Object.fromEntries(statements.map((st) => [JSON.parse(field(st, 'Sid')) as string, st]));
    expect(Object.keys(bySid).sort()).toEqual(['DataKeyThroughS3', 'ListBackups', 'ReadWriteBackups']);
    for (const st of statements) expect(field(st, 'Effect')).toBe('"Allow"');
    expect(field(bySid.ListBackups ?? '', 'Action')).toBe('"s3:ListBucket"');
    expect(field(bySid.ListBackups ?? '', 'Resource')).toBe('module.backups_bucket.arn');
    expect(JSON.parse(field(bySid.ReadWriteBackups ?? '', 'Action')) as string[]).toEqual(['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:DeleteObject']);
    expect(field(bySid.ReadWriteBackups ?? '', 'Resource')).toBe('"${module.backups_bucket.arn}/${local.backup_prefix}/*"');
    expect(locals.backup_prefix).toBe('backups');
    expect(JSON.parse(field(bySid.DataKeyThroughS3 ?? '', 'Action')) as string[]).toEqual(['kms:GenerateDataKey', 'kms:Decrypt']);
    expect(field(bySid.DataKeyThroughS3 ?? '', 'Resource')).toBe('aws_kms_key.data.arn');
    expect(field(bySid.DataKeyThroughS3 ?? '', 'Condition')).toBe('{ StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }');
    // Least privilege: no wildcard action or resource, nothing that destroys versions or changes the bucket.
    expect(text).not.toMatch(/"s3:\*"|"kms:\*"|Resource\s*=\s*"\*"|DeleteObjectVersion|PutBucket|PutObjectAcl/);
    // The prefix is the one the backup script writes under by default.
    expect(readFileSync(repoPath('lib/config.ts'), 'utf8')).toMatch(/BACKUP_PREFIX: z\.string\(\)[^\n]*\.default\('backups'\)/);
  });

  it('everything that stores data is encrypted, and nothing stores data unchecked', () => {
    // Each resource type is either checked for encryption at rest or holds no data of ours.
    const encrypted: Record<string, (b: Block) => boolean> = {
      aws_db_instance: (b) => b.storage_encrypted === true && typeof b.kms_key_id === 'string',
      aws_elasticache_replication_group: (b) => b.at_rest_encryption_enabled === true && b.transit_encryption_enabled === true,
      aws_secretsmanager_secret: (b) => typeof b.kms_key_id === 'string',
      aws_ecr_repository: (b) => firstBlock(b, 'encryption_configuration').encryption_type === 'KMS',
      aws_cloudwatch_log_group: (b) => typeof b.kms_key_id === 'string',
      aws_eks_cluster: (b) => Array.isArray(b.encryption_config),
      aws_launch_template: (b) => firstBlock(firstBlock(b, 'block_device_mappings'), 'ebs').encrypted === true,
      aws_kms_key: (b) => b.enable_key_rotation === true,
    };
    const noData = new Set([
      'aws_vpc', 'aws_default_security_group', 'aws_internet_gateway', 'aws_subnet', 'aws_eip', 'aws_nat_gateway', 'aws_route_table',
      'aws_route_table_association', 'aws_vpc_endpoint', 'aws_flow_log', 'aws_security_group', 'aws_vpc_security_group_ingress_rule',
      'aws_vpc_security_group_egress_rule', 'aws_kms_alias', 'aws_iam_role', 'aws_iam_role_policy_attachment', 'aws_iam_role_policy',
      'aws_iam_openid_connect_provider', 'aws_eks_node_group',
      'aws_db_subnet_group', 'aws_db_parameter_group', 'aws_elasticache_subnet_group', 'aws_elasticache_parameter_group',
      'random_password', 'aws_secretsmanager_secret_version', 'aws_acm_certificate',
    ]);
    for (const type of Object.keys(root.resource ?? {})) {
      if (noData.has(type)) continue;
      const check = encrypted[type];
      if (!check) throw new Error(`${type} is neither checked for encryption nor listed as holding no data`);
      for (const [name, b] of all(root, type)) expect([`${type}.${name}`, check(b)]).toEqual([`${type}.${name}`, true]);
    }
    // The flow logs go to the (encrypted) log bucket; the state is encrypted too.
    expect(one(root, 'aws_flow_log', 'vpc').log_destination).toContain('module.logs_bucket.arn');
    const backend = at(present(root.terraform, 'terraform block'), 0, 'terraform').backend as Record<string, Block[]>;
    expect(at(present(backend.s3, 's3 backend'), 0, 's3 backend').encrypt).toBe(true);
  });
});
