import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { registry } from '../../lib/metrics';
import { repoPath } from './kustomize';

/**
 * ops/monitoring: the alert rules (checked and unit-tested by promtool) and the Grafana dashboard
 * use only metrics that exist: the app's registry (lib/metrics.ts, with prom-client's defaults) and
 * these, which the cluster's own exporters provide.
 */
const EXPORTER_METRICS = [
  'up', // Prometheus, per scrape target
  'container_cpu_usage_seconds_total', // cAdvisor (kubelet)
  'container_memory_working_set_bytes', // cAdvisor (kubelet)
  'kube_pod_container_resource_limits', // kube-state-metrics
  'kube_deployment_status_replicas_available', // kube-state-metrics
  'kube_cronjob_status_last_successful_time', // kube-state-metrics (the backup CronJob)
  'kube_job_status_failed', // kube-state-metrics (the backup CronJob's jobs)
];

/** The alerts the architecture document lists, by the name each has in alerts.yml. */
const DESIGN_ALERTS = {
  critical: {
    'health failing': ['HealthCheckFailing', 'RoleUnavailable'],
    'database down': ['DatabaseDown'],
    'error rate > 5% for 5 min': ['HighErrorRate'],
    'purchase failure > 10%': ['PurchaseFailureRate'],
    'security events': ['AuditChainBroken', 'ForgedSignatures', 'AuthenticationFailureSpike'],
  },
  warning: {
    'p95 > 3 s': ['HighLatencyP95'],
    'CPU > 80%': ['HighCpu'],
    'memory > 80%': ['HighMemory'],
    'queue > 500': ['QueueBacklog'],
    'exchange latency > 5 s': ['ExchangeLatencyHigh'],
  },
};

const MONITORING = repoPath('ops/monitoring');

type Rule = { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: Record<string, string> };
const rules: Rule[] = (parseYaml(readFileSync(`${MONITORING}/alerts.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

type Panel = { id: number; type: string; title: string; targets?: { expr: string }[]; panels?: Panel[] };
type Dashboard = { uid: string; panels: Panel[]; templating: { list: { name: string; query: string | { query: string } }[] } };
const dashboard = JSON.parse(readFileSync(`${MONITORING}/grafana/liquid-abt.json`, 'utf8')) as Dashboard;

/** Metric names a PromQL expression selects; throws on a syntax error. */
function metricNames(expr: string): string[] {
  // Grafana's variables stand for a value of the same kind.
  const promql = expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', 'liquid-abt-production');
  const tree = parser.parse(promql);
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from} in: ${expr}`);
    if (cursor.name === 'VectorSelector') {
      const first = cursor.node.firstChild;
      if (first?.name === 'Identifier') names.push(promql.slice(first.from, first.to));
      else {
        const byName = /__name__\s*=\s*"([^"]+)"/.exec(promql.slice(cursor.from, cursor.to))?.[1];
        if (byName === undefined) throw new Error(`selector without a metric name in: ${expr}`);
        names.push(byName);
      }
    }
  } while (cursor.next());
  if (names.length === 0) throw new Error(`no metric in: ${expr}`);
  return names;
}

/** Every series name the app exposes: counters and gauges as named, histograms with their suffixes. */
async function knownMetrics(): Promise<Set<string>> {
  const known = new Set(EXPORTER_METRICS);
  for (const m of await registry.getMetricsAsJSON()) {
    known.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) known.add(m.name + s);
    if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) known.add(m.name + s);
  }
  return known;
}

function dashboardExprs(): string[] {
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const fromPanels = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const fromVariables = dashboard.templating.list
    .map((v) => (typeof v.query === 'string' ? v.query : v.query.query))
    .map((q) => q.match(/^label_values\((.+),\s*\w+\)$/)?.[1])
    .filter((q): q is string => q !== undefined);
  return [...fromPanels, ...fromVariables];
}

const promtool = ((): string | undefined => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    return undefined;
  }
})();
const runPromtool = (args: string[]): string => {
  if (!promtool) throw new Error('promtool is not installed: `apt-get install -y prometheus` (Debian; .ci/run installs it when missing)');
  return execFileSync(promtool, args, { cwd: MONITORING, encoding: 'utf8', stdio: 'pipe' });
};

describe('ops/monitoring/alerts.yml', () => {
  it('promtool check rules accepts it', () => {
    expect(runPromtool(['check', 'rules', 'alerts.yml'])).toContain('SUCCESS');
  });

  it('promtool test rules: each alert fires on its case and stays quiet on its near miss (alerts.test.yml)', () => {
    expect(runPromtool(['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS');
  });

  it('every alert is unit-tested firing', () => {
    const tests = parseYaml(readFileSync(`${MONITORING}/alerts.test.yml`, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect([...fired].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it.each(Object.entries(DESIGN_ALERTS))('the %s alerts the design lists are there with that severity', (severity, alerts) => {
    for (const names of Object.values(alerts)) {
      for (const name of names) expect(rules.find((r) => r.alert === name)?.labels.severity).toBe(severity);
    }
  });

  it('thresholds are the design numbers', () => {
    const expr = (name: string): string => rules.find((r) => r.alert === name)!.expr;
    const rule = (name: string): Rule => rules.find((r) => r.alert === name)!;
    expect(expr('HighErrorRate')).toMatch(/> 0\.05\s*$/);
    expect(rule('HighErrorRate').for).toBe('5m');
    expect(expr('PurchaseFailureRate')).toMatch(/> 0\.10\s*$/);
    expect(expr('HighLatencyP95')).toMatch(/histogram_quantile\(0\.95,[\s\S]*\) > 3\s*$/);
    expect(expr('HighCpu')).toMatch(/> 0\.8\s*$/);
    expect(expr('HighMemory')).toMatch(/> 0\.8\s*$/);
    expect(expr('QueueBacklog')).toMatch(/> 500$/);
    expect(expr('ExchangeLatencyHigh')).toMatch(/histogram_quantile\(0\.95,[\s\S]*\) > 5\s*$/);
  });

  it('uses only metrics that exist', async () => {
    const known = await knownMetrics();
    for (const r of rules) for (const name of metricNames(r.expr)) expect([r.alert, name, known.has(name)]).toEqual([r.alert, name, true]);
  });
});

describe('ops/monitoring/grafana/liquid-abt.json', () => {
  it('is a dashboard with unique panel ids, every panel querying Prometheus', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const charts = dashboard.panels.filter((p) => p.type !== 'row');
    expect(charts.length).toBeGreaterThan(20);
    for (const p of charts) expect(p.targets?.length).toBeGreaterThan(0);
  });

  it('every expression parses and references only metrics that exist', async () => {
    const known = await knownMetrics();
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(25);
    const unknown = exprs.flatMap((e) => metricNames(e).filter((n) => !known.has(n)).map((n) => `${n} in ${e}`));
    expect(unknown).toEqual([]);
  });

  it('shows the design metrics: purchases, exchange calls, response time, throughput, errors by endpoint, queues, outbox, subscribers, cache hit rate', () => {
    const used = new Set(dashboardExprs().flatMap(metricNames));
    for (const name of [
      'abt_purchases_total',
      'abt_purchase_processing_seconds_bucket',
      'abt_exchange_request_duration_seconds_count',
      'abt_exchange_request_duration_seconds_bucket',
      'abt_http_request_duration_seconds_bucket',
      'abt_http_request_duration_seconds_count',
      'abt_queue_depth',
      'abt_outbox_lag_seconds',
      'abt_gateway_subscribers',
      'abt_cache_lookups_total',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('the metric-name check does catch a metric that does not exist', async () => {
    const known = await knownMetrics();
    expect(metricNames('sum(rate(abt_purchases_totl[5m]))').every((n) => known.has(n))).toBe(false);
    expect(() => metricNames('sum(rate(abt_purchases_total[5m])')).toThrow(/syntax/);
  });
});

describe('ops/monitoring/prometheus.yml', () => {
  it('scrapes the liquid-abt pods with the labels the rules group by, and loads the rules', () => {
    const cfg = parseYaml(readFileSync(`${MONITORING}/prometheus.yml`, 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; relabel_configs: { target_label?: string }[] }[];
    };
    expect(cfg.rule_files).toEqual(['alerts.yml']);
    const job = cfg.scrape_configs.find((j) => j.job_name === 'liquid-abt')!;
    const targets = job.relabel_configs.map((r) => r.target_label).filter(Boolean);
    expect(targets).toEqual(expect.arrayContaining(['namespace', 'pod', 'component', '__address__', '__metrics_path__']));
  });
});
