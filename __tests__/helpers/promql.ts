import { Registry } from 'prom-client';
import { AlertDispatcher } from '../../lib/alerts/dispatcher';
import { HeartbeatManager } from '../../lib/core/manager';
import { registerMetrics } from '../../lib/metrics/prometheus';

/** Series every Prometheus has without any exporter: `up` per target, `ALERTS` from its alert rules. */
export const PROMETHEUS_SERIES = ['up', 'ALERTS'] as const;

/**
 * The metric names the library exports, read from the code itself: a manager's metrics and an
 * AlertDispatcher's counters registered on a fresh registry. Nothing is listed by hand, so a
 * dashboard or rule naming a metric that was renamed or removed is caught.
 */
export function exportedMetricNames(): string[] {
  const registry = new Registry();
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  try {
    registerMetrics(manager, { registry });
    new AlertDispatcher(manager, { registry, targets: [{ notifier: { name: 'probe', send: () => Promise.resolve() } }] });
    return registry
      .getMetricsAsArray()
      .map((metric) => metric.name)
      .sort();
  } finally {
    void manager.close();
  }
}

const NOT_METRICS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects (Grafana variables such as `$instance` or
 * `[$__rate_interval]` allowed). A small scanner, not a parser: it drops strings, label
 * matchers, ranges and grouping clauses, then keeps the identifiers that are not functions,
 * keywords or parts of numbers and durations.
 */
export function metricNamesIn(expr: string): string[] {
  const rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const match of rest.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const before = rest[match.index - 1] ?? ' ';
    const after = rest.slice(match.index + name.length).trimStart();
    if (/[0-9.]/.test(before)) continue; // 1e3, 10m, 0x1f
    if (after.startsWith('(')) continue; // a function
    if (NOT_METRICS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}
