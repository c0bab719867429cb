import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './helpers/child';
import { parseDuration } from './helpers/prometheus';
import { exportedMetricNames, metricNamesIn, PROMETHEUS_SERIES } from './helpers/promql';

const ALERTS = join(ROOT, 'prometheus', 'alerts.yml');
const RECORDING = join(ROOT, 'prometheus', 'recording.yml');
const TESTS = join(ROOT, 'prometheus', 'alerts.test.yml');
const DASHBOARD = join(ROOT, 'grafana', 'heartbeat-dashboard.json');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{
    name: string;
    alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: Array<{ exp_labels: Record<string, string> }> }>;
  }>;
}

/** Runs Debian's promtool (npm test installs it) and returns its exit status and output. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  if (result.error)
    throw new Error(`promtool could not run (${result.error.message}); npm test installs it through scripts/ensure-system-deps.js.`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Exit status 0, or a failure that shows promtool's output. */
function expectSuccess(result: { status: number | null; output: string }): void {
  if (result.status !== 0) throw new Error(`promtool exited with ${result.status}:\n${result.output}`);
}

const alertRules = (): Rule[] => (parse(readFileSync(ALERTS, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules);
const known = new Set<string>([...exportedMetricNames(), ...PROMETHEUS_SERIES]);

describe('promtool', () => {
  it('checks the alerting and recording rules', () => {
    expectSuccess(promtool('check', 'rules', 'prometheus/alerts.yml', 'prometheus/recording.yml'));
  });

  it('passes the rule unit tests', () => {
    const result = promtool('test', 'rules', 'prometheus/alerts.test.yml');
    expectSuccess(result);
    expect(result.output).toContain('SUCCESS');
  });

  describe('can fail', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'heartbeat-rules-'));
      for (const file of [ALERTS, RECORDING, TESTS]) copyFileSync(file, join(dir, file.split('/').pop() as string));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('on a wrong expectation', () => {
      const tests = readFileSync(TESTS, 'utf8');
      const wrong = tests.replace(/severity: critical\n/, 'severity: warning\n');
      expect(wrong).not.toBe(tests);
      writeFileSync(join(dir, 'alerts.test.yml'), wrong);
      const result = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      expect(result.status).not.toBe(0);
      expect(result.output).toContain('FAILED');
    });

    it('on a rule that no longer does what the tests say', () => {
      const rules = readFileSync(ALERTS, 'utf8');
      const wrong = rules.replaceAll('heartbeat_service_status >= 3', 'heartbeat_service_status >= 4');
      expect(wrong).not.toBe(rules);
      writeFileSync(join(dir, 'alerts.yml'), wrong);
      const result = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      expect(result.status).not.toBe(0);
      expect(result.output).toContain('HeartbeatServiceCritical');
    });
  });
});

describe('alerts.yml', () => {
  it('gives every alert a severity, a for: of a minute at most, a summary and a description naming the instance', () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(10);
    for (const rule of rules) {
      const where = `alert ${rule.alert}`;
      expect([where, rule.labels?.severity && ['critical', 'warning'].includes(rule.labels.severity)]).toEqual([where, true]);
      if (rule.for !== undefined) expect([where, parseDuration(rule.for) <= 60]).toEqual([where, true]);
      expect([where, typeof rule.annotations?.summary, typeof rule.annotations?.description]).toEqual([where, 'string', 'string']);
      // absent() of a whole job has no instance to name.
      if (!rule.expr.startsWith('absent('))
        expect([where, rule.annotations?.description]).toEqual([where, expect.stringContaining('{{ $labels.instance }}')]);
    }
    // Per-service alerts name the service.
    for (const rule of (parse(readFileSync(ALERTS, 'utf8')) as RuleFile).groups.find((group) => group.name === 'heartbeat-services')
      ?.rules ?? []) {
      expect([rule.alert, rule.annotations?.description]).toEqual([rule.alert, expect.stringContaining('{{ $labels.service }}')]);
    }
  });

  it('alerts a service the replicas share once: each per-service rule has a per-instance half and a max by (job, service) half', () => {
    const group = (parse(readFileSync(ALERTS, 'utf8')) as RuleFile).groups.find((candidate) => candidate.name === 'heartbeat-services');
    expect(group?.rules.length).toBeGreaterThanOrEqual(6);
    for (const rule of group?.rules ?? []) {
      const expr = rule.expr.replace(/\s+/g, ' ');
      const [alone, shared] = expr.split(/ or (?:\( )?max by \(job, service\) \(/);
      // The flag now, or within the hour for HeartbeatServiceVanished, whose service is gone now.
      const flag = '\\(job, instance, service\\) (heartbeat_service_shared|max_over_time\\(heartbeat_service_shared\\[1h\\]\\)) == 1';
      expect([rule.alert, alone, shared === undefined]).toEqual([
        rule.alert,
        expect.stringMatching(new RegExp(`unless on ${flag}`)),
        false,
      ]);
      expect([rule.alert, shared]).toEqual([rule.alert, expect.stringMatching(new RegExp(`and on ${flag}`))]);
      // A shared service's alert has no instance label: its texts must not leave "on " dangling.
      for (const text of [rule.annotations?.summary, rule.annotations?.description]) {
        expect([rule.alert, text]).toEqual([rule.alert, expect.stringMatching(/^\{\{ if \$labels\.instance \}\}/)]);
      }
    }
  });

  it('covers the levels the issue asks for', () => {
    const byName = new Map(alertRules().map((rule) => [rule.alert, rule]));
    expect(byName.get('HeartbeatServiceWarning')?.labels?.severity).toBe('warning');
    expect(byName.get('HeartbeatServiceDegraded')?.labels?.severity).toBe('warning');
    expect(byName.get('HeartbeatServiceCritical')?.labels?.severity).toBe('critical');
    expect(byName.get('HeartbeatTargetDown')?.labels?.severity).toBe('critical');
    for (const name of [
      'HeartbeatServiceFlapping',
      'HeartbeatPulsesStale',
      'HeartbeatServiceVanished',
      'HeartbeatInstanceOffline',
      'HeartbeatMetricsMissing',
      'HeartbeatNoTargets',
      'HeartbeatStoreFailing',
      'HeartbeatAlertDeliveryFailing',
      'HeartbeatAlertsDropped',
    ]) {
      expect([name, byName.has(name)]).toEqual([name, true]);
    }
  });

  it('has a unit test where each alert fires and one where it must not', () => {
    const tests = parse(readFileSync(TESTS, 'utf8')) as RuleTests;
    expect(tests.rule_files.sort()).toEqual(['alerts.yml', 'recording.yml']);
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    const names = alertRules().map((rule) => rule.alert);
    for (const name of names) {
      const mine = cases.filter((test) => test.alertname === name);
      expect([name, mine.some((test) => test.exp_alerts.length > 0), mine.some((test) => test.exp_alerts.length === 0)]).toEqual([
        name,
        true,
        true,
      ]);
    }
    expect(cases.filter((test) => !names.includes(test.alertname))).toEqual([]);
  });

  it('and recording.yml name only metrics the library exports, and up', () => {
    const recording = (parse(readFileSync(RECORDING, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules);
    for (const rule of [...alertRules(), ...recording]) {
      const unknown = metricNamesIn(rule.expr).filter((name) => !known.has(name));
      expect([rule.alert ?? rule.record, unknown]).toEqual([rule.alert ?? rule.record, []]);
    }
  });
});

describe("docs/metrics-and-fleet.md's Replicas section", () => {
  const docs = readFileSync(join(ROOT, 'docs', 'metrics-and-fleet.md'), 'utf8');
  const section = docs.slice(docs.indexOf('\n### Replicas\n'), docs.indexOf('\n### Alertmanager\n'));
  // The PromQL it quotes: the code spans that select the shared flag.
  const promql = [...section.matchAll(/`([^`]+)`/g)]
    .map((match) => match[1] as string)
    .filter((span) => span.includes('heartbeat_service_shared =='));

  it('quotes valid PromQL over exported metrics only', () => {
    expect(promql.length).toBeGreaterThanOrEqual(4);
    for (const expr of promql) expect([expr, metricNamesIn(expr).filter((name) => !known.has(name))]).toEqual([expr, []]);
    const dir = mkdtempSync(join(tmpdir(), 'heartbeat-docs-promql-'));
    try {
      const rules = promql.map((expr, index) => ({ record: `docs:replicas_example_${index}:quoted`, expr }));
      writeFileSync(join(dir, 'quoted.yml'), stringify({ groups: [{ name: 'quoted', rules }] }));
      expectSuccess(promtool('check', 'rules', '--lint=none', join(dir, 'quoted.yml')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('quotes the two halves of HeartbeatServiceCritical as shipped', () => {
    const critical = alertRules().find((rule) => rule.alert === 'HeartbeatServiceCritical');
    const shipped = (critical?.expr ?? '').replace(/\s+/g, ' ');
    const halves = promql.filter((expr) => expr.includes('heartbeat_service_status >= 3'));
    expect(halves).toHaveLength(2);
    for (const half of halves) expect(shipped).toContain(half);
  });
});

describe('the metric-name scanner', () => {
  it('finds selected metrics and skips functions, labels, strings, durations and Grafana variables', () => {
    expect(metricNamesIn('sum by (instance, service) (rate(heartbeat_pulses_total{job=~"$job", service="up"}[$__rate_interval]))')).toEqual(
      ['heartbeat_pulses_total'],
    );
    expect(metricNamesIn('(time() - a_b{x="y"}) > 10 * c unless on (job, instance) d >= 2')).toEqual(['a_b', 'c', 'd']);
    expect(metricNamesIn('count(up == 0) or vector(0)')).toEqual(['up']);
    expect(metricNamesIn('x > 0 unless x offset 10m and on(job) y[5m:1m] * 1e3')).toEqual(['x', 'y']);
  });

  it('knows the library exports, read from the code', () => {
    expect([...known]).toEqual(
      expect.arrayContaining([
        'heartbeat_service_status',
        'heartbeat_overall_status',
        'heartbeat_last_pulse_timestamp_seconds',
        'heartbeat_service_shared',
        'heartbeat_alerts_failed_total',
        'up',
      ]),
    );
    expect(known.has('heartbeat_nonexistent')).toBe(false);
  });
});

describe('grafana/heartbeat-dashboard.json', () => {
  interface Target {
    expr: string;
    refId: string;
    legendFormat?: string;
    datasource: { type: string; uid: string };
  }
  interface Panel {
    id: number;
    type: string;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    datasource?: { type: string; uid: string };
    targets?: Target[];
    fieldConfig?: { defaults: { mappings?: Array<{ options: Record<string, { text: string }> }> } };
  }
  interface Variable {
    name: string;
    type: string;
    definition: string;
    query: { query: string };
    datasource: { uid: string };
  }
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    __inputs: Array<{ name: string; type: string; pluginId: string }>;
    uid: string;
    schemaVersion: number;
    panels: Panel[];
    templating: { list: Variable[] };
  };
  const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
  const DS = '${DS_PROMETHEUS}';

  it('imports as is: a Prometheus datasource input that every panel, query and variable uses', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    for (const panel of panels) {
      expect([panel.title, panel.datasource]).toEqual([panel.title, { type: 'prometheus', uid: DS }]);
      expect([panel.title, (panel.targets ?? []).length > 0]).toEqual([panel.title, true]);
      for (const target of panel.targets ?? []) expect([panel.title, target.datasource.uid]).toEqual([panel.title, DS]);
    }
    for (const variable of dashboard.templating.list) expect([variable.name, variable.datasource.uid]).toEqual([variable.name, DS]);
    // Grafana wants unique panel ids and a layout without overlaps.
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const { gridPos, title } of dashboard.panels) {
      expect([title, gridPos.x + gridPos.w <= 24]).toEqual([title, true]);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect([title, cells.has(`${x},${y}`)]).toEqual([title, false]);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('has an instance variable from the library metrics, and queries that name only exported metrics', () => {
    const names = dashboard.templating.list.map((variable) => variable.name);
    expect(names).toEqual(expect.arrayContaining(['instance', 'service']));
    for (const variable of dashboard.templating.list) {
      const query = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.query.query);
      expect([variable.name, query?.[2]]).toEqual([variable.name, variable.name]);
      expect([variable.name, variable.definition]).toEqual([variable.name, variable.query.query]);
      expect([variable.name, metricNamesIn(query?.[1] ?? '').filter((name) => !known.has(name))]).toEqual([variable.name, []]);
    }
    const used = new Set<string>();
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const selected = metricNamesIn(target.expr);
        expect([panel.title, selected.length > 0, selected.filter((name) => !known.has(name))]).toEqual([panel.title, true, []]);
        for (const name of selected) used.add(name);
      }
    }
    for (const name of [
      'heartbeat_service_status',
      'heartbeat_overall_status',
      'heartbeat_last_pulse_timestamp_seconds',
      'heartbeat_interval_seconds',
      'heartbeat_consecutive_failures',
      'heartbeat_pulses_total',
      'heartbeat_uptime_ratio',
      'heartbeat_alerts_sent_total',
      'heartbeat_alerts_failed_total',
      'heartbeat_alerts_dropped_total',
      'up',
    ]) {
      expect([name, used.has(name)]).toEqual([name, true]);
    }
  });

  it('shows statuses in the library words', () => {
    const timeline = panels.find((panel) => panel.type === 'state-timeline');
    const mapping = timeline?.fieldConfig?.defaults.mappings?.[0]?.options ?? {};
    expect(Object.fromEntries(Object.entries(mapping).map(([value, { text }]) => [value, text]))).toEqual({
      0: 'healthy',
      1: 'warning',
      2: 'degraded',
      3: 'critical',
      4: 'offline',
    });
  });

  it('counts and lists a service that three replicas share once, and one of each process per instance', () => {
    // nightly_export is shared by bridge-1..3 and critical; save_worker runs in each of them, warning on bridge-2 only.
    const replicas = ['bridge-1:5001', 'bridge-2:5001', 'bridge-3:5001'];
    const series: Array<{ series: string; values: string }> = [];
    for (const instance of replicas) {
      for (const [service, shared, status] of [
        ['nightly_export', 1, 3],
        ['save_worker', 0, instance === 'bridge-2:5001' ? 1 : 0],
      ] as const) {
        const labels = `job="heartbeat", instance="${instance}", service="${service}"`;
        series.push(
          { series: `heartbeat_service_status{${labels}}`, values: `${status}x40` },
          { series: `heartbeat_service_shared{${labels}}`, values: `${shared}x40` },
          { series: `heartbeat_last_pulse_timestamp_seconds{${labels}}`, values: '0+15x40' },
          { series: `heartbeat_interval_seconds{${labels}}`, values: '15x40' },
          { series: `heartbeat_consecutive_failures{${labels}}`, values: '0x40' },
          { series: `heartbeat_pulses_total{${labels}}`, values: '0+15x40' },
          { series: `heartbeat_errors_total{${labels}}`, values: '0x40' },
          { series: `heartbeat_uptime_ratio{${labels}, window="24h"}`, values: '1x40' },
          { series: `heartbeat_uptime_ratio{${labels}, window="7d"}`, values: '1x40' },
          { series: `heartbeat_service_metric{${labels}, metric="queue_depth"}`, values: '12x40' },
        );
      }
    }
    const grafanaVariables = (expr: string) => expr.replace(/\$__rate_interval/g, '1m').replace(/\$(job|instance|service)\b/g, '.*');
    const byTitle = (title: string) => panels.find((panel) => panel.title === title)?.targets?.[0]?.expr ?? 'missing';
    const lists = panels.flatMap((panel) =>
      (panel.targets ?? []).filter((target) => target.legendFormat?.includes('{{service}}') && target.expr.includes('$service')),
    );
    // Every panel with a line or row per service and instance: the status, pulse age, failures, rates, uptime, custom metrics.
    expect(lists.length).toBeGreaterThanOrEqual(8);
    const cases = [
      { expr: grafanaVariables(byTitle('Services not healthy')), eval_time: '5m', exp_samples: [{ labels: '{}', value: 2 }] },
      { expr: grafanaVariables(byTitle('Services critical')), eval_time: '5m', exp_samples: [{ labels: '{}', value: 1 }] },
      ...lists.map((target) => ({
        expr: `count by (service) (${grafanaVariables(target.expr)})`,
        eval_time: '5m',
        exp_samples: [
          { labels: '{service="nightly_export"}', value: 1 },
          { labels: '{service="save_worker"}', value: 3 },
        ],
      })),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'heartbeat-dashboard-'));
    try {
      writeFileSync(join(dir, 'none.yml'), 'groups: []\n');
      writeFileSync(
        join(dir, 'dashboard.test.yml'),
        stringify({
          rule_files: ['none.yml'],
          evaluation_interval: '15s',
          tests: [{ interval: '15s', input_series: series, promql_expr_test: cases }],
        }),
      );
      expectSuccess(promtool('test', 'rules', join(dir, 'dashboard.test.yml')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
