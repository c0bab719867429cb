import { register as globalRegister, type Metric, type Registry, type RegistryContentType } from 'prom-client';
import type { HeartbeatManager } from '../core/manager';
import { OptionReader } from '../util/validate';
import { FAMILIES } from './families';
import { StateMetric } from './state-metric';

/** What `registerMetrics()` takes. Every key is optional. */
export interface MetricsOptions {
  /** The prom-client registry to register with. Defaults to prom-client's global `register`. */
  readonly registry?: Registry<RegistryContentType>;
  /** Prefix of every metric name. Defaults to `heartbeat_`. */
  readonly prefix?: string;
}

/** What `registerMetrics()` returns: the way to stop exporting the manager. */
export interface MetricsRegistration {
  /** Stops exporting this manager's services. The metrics stay registered for other managers. */
  unregister(): void;
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** What `registerMetrics()` and `healthRouter()` accept as a metric name prefix. */
export function readMetricPrefix(read: OptionReader, key: string, value: unknown): string {
  if (value === undefined) return 'heartbeat_';
  if (typeof value !== 'string' || !PREFIX.test(value)) {
    read.fail(key, value, 'a metric name prefix such as "heartbeat_" (letters, digits, _ and :, not starting with a digit)');
  }
  return value;
}

/**
 * Exports a manager's services as Prometheus metrics: `heartbeat_service_status`,
 * `heartbeat_last_pulse_timestamp_seconds`, `heartbeat_interval_seconds`,
 * `heartbeat_consecutive_failures`, `heartbeat_pulses_total`, `heartbeat_errors_total`,
 * `heartbeat_service_paused`, `heartbeat_service_shared`, `heartbeat_run_in_progress` and
 * `heartbeat_last_run_duration_seconds` (jobs only; all labelled `service`), `heartbeat_at_risk{service}`,
 * `heartbeat_pulse_gap_seconds{service,stat}` (`mean`, `p95`), `heartbeat_uptime_ratio{service,window}`,
 * `heartbeat_service_metric{service,metric}`, `heartbeat_overall_status`,
 * `heartbeat_event_loop_lag_seconds`, `heartbeat_store_errors_total`,
 * `heartbeat_store_dropped_signals_total` (stores replicas share) and
 * `heartbeat_store_last_flush_timestamp_seconds`. Values are computed at scrape time from
 * the same state as the JSON. Registering again, or several managers on one registry, is fine.
 */
export function registerMetrics(manager: HeartbeatManager, options: MetricsOptions = {}): MetricsRegistration {
  const read = new OptionReader('Invalid registerMetrics options');
  const given = read.object('', options, ['registry', 'prefix']);
  const registry = (given.registry as Registry<RegistryContentType> | undefined) ?? globalRegister;
  if (typeof registry.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    read.fail('registry', given.registry, 'a prom-client Registry');
  }
  const prefix = readMetricPrefix(read, 'prefix', given.prefix);

  // Check every name before registering any, so a conflict leaves the registry as it was.
  for (const family of FAMILIES) {
    const name = `${prefix}${family.suffix}`;
    const existing = registry.getSingleMetric(name) as unknown;
    if (existing instanceof StateMetric && existing.family !== family) {
      throw new Error(
        `Cannot export heartbeat metrics: "${name}" is already another heartbeat metric on this registry, exported under a prefix ` +
          `that this one (${JSON.stringify(prefix)}) overlaps. Pass prefixes that do not run into each other's names, such as "jobs_heartbeat_" beside "heartbeat_".`,
      );
    }
    if (existing !== undefined && !(existing instanceof StateMetric)) {
      throw new Error(
        `Cannot export heartbeat metrics: the registry already has a metric named "${name}" that express-heartbeat did not create. ` +
          `Pass another prefix than ${JSON.stringify(prefix)}: healthRouter({ metricsPrefix: 'app_heartbeat_' }), ` +
          `or registerMetrics(manager, { prefix: 'app_heartbeat_' }) where you register the metrics yourself.`,
      );
    }
  }
  // The managers are those of the families already in the registry, whoever put them there: a
  // registry.clear() drops them with the families, and a Registry.merge() carries them along.
  const managers =
    FAMILIES.map((family) => registry.getSingleMetric(`${prefix}${family.suffix}`) as unknown).find(
      (metric): metric is StateMetric => metric instanceof StateMetric,
    )?.managers ?? new Set<HeartbeatManager>();
  for (const family of FAMILIES) {
    const name = `${prefix}${family.suffix}`;
    if (registry.getSingleMetric(name) !== undefined) continue;
    const metric = new StateMetric(name, family.help, family.type, family.aggregator, family, managers);
    // The registry reads only the members StateMetric has; prom-client's types name its own classes.
    registry.registerMetric(metric as unknown as Metric);
  }
  managers.add(manager);
  return { unregister: () => void managers.delete(manager) };
}
