import { register as globalRegister, type Aggregator, type Metric, type Registry, type RegistryContentType } from 'prom-client';
import { wallTimeOf } from '../util/clock';
import { uptimeRatios } from '../core/history';
import type { HeartbeatManager } from '../core/manager';
import type { ServiceRecord } from '../core/service-record';
import { HEALTHY, OFFLINE, STATUS_WORDS } from '../core/status';
import { OptionReader } from '../util/validate';

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

type Sample = { labels: Record<string, string>; value: number; sharedLabels: Readonly<Record<string, never>> };

/**
 * prom-client formats each sample's `sharedLabels` through a WeakMap cache keyed by the
 * object; one frozen empty object for every sample turns a cache insert per line into a hit.
 */
const NO_SHARED_LABELS: Readonly<Record<string, never>> = Object.freeze({});
type ServiceValue = (record: ServiceRecord, manager: HeartbeatManager, now: number) => number | undefined;
/** For families with more labels than `service`: pushes any number of samples for one service. */
type ServiceSamples = (record: ServiceRecord, now: number, push: (labels: Record<string, string>, value: number) => void) => void;

/** One exported family: a name, a help text and how to read one service's value. */
interface Family {
  suffix: string;
  help: string;
  type: 'gauge' | 'counter';
  aggregator: Aggregator;
  /** One value per service, labelled `service`. */
  value?: ServiceValue;
  /** Any number of samples per service, with labels of their own. */
  samples?: ServiceSamples;
  /** One value per manager, without labels, or `undefined` for none; several managers on a registry export one sample (`combine`). */
  managerValue?: (manager: HeartbeatManager) => number | undefined;
  /** How the values of several managers on one registry combine into the one sample. Defaults to the largest. */
  combine?: (values: number[]) => number;
  /** The sample while no manager gives a value; without it, the series is absent. */
  whenNone?: number;
}

const FAMILIES: readonly Family[] = [
  {
    suffix: 'service_status',
    help: 'Status of the service: 0 healthy, 1 warning, 2 degraded, 3 critical.',
    type: 'gauge',
    aggregator: 'max',
    value: (record, manager, now) => manager.rankOf(record, now),
  },
  {
    suffix: 'last_pulse_timestamp_seconds',
    help: 'Unix time of the last sign of life (a pulse, or the start). Absent before the first.',
    type: 'gauge',
    aggregator: 'max',
    value: (record, manager) => (record.signed ? wallTimeOf(manager.clock, record.lastSignAt) / 1000 : undefined),
  },
  {
    suffix: 'interval_seconds',
    help: 'Expected seconds between pulses.',
    type: 'gauge',
    aggregator: 'first',
    value: (record) => record.intervalMs / 1000,
  },
  {
    suffix: 'consecutive_failures',
    help: 'Missed beats plus errors reported since the last pulse.',
    type: 'gauge',
    aggregator: 'max',
    value: (record, _manager, now) => record.missedAt(now) + record.errorsSinceSign,
  },
  {
    suffix: 'pulses_total',
    help: 'Pulses received.',
    type: 'counter',
    aggregator: 'sum',
    value: (record) => record.totalPulses,
  },
  {
    suffix: 'errors_total',
    help: 'Errors reported.',
    type: 'counter',
    aggregator: 'sum',
    value: (record) => record.errorCount,
  },
  {
    suffix: 'uptime_ratio',
    help: 'Share of time up (healthy or warning) over the window, or over the service life if shorter.',
    type: 'gauge',
    aggregator: 'min',
    samples: (record, now, push) => {
      for (const [window, ratio] of Object.entries(uptimeRatios(record, now))) push({ service: record.tag, window }, ratio);
    },
  },
  {
    suffix: 'service_metric',
    help: 'Custom metrics sent with pulses, e.g. heartbeat.pulse({ queue_depth: 12 }).',
    type: 'gauge',
    aggregator: 'sum',
    samples: (record, _now, push) => {
      if (record.customMetrics) for (const [metric, value] of record.customMetrics) push({ service: record.tag, metric }, value);
    },
  },
  {
    suffix: 'service_paused',
    help: 'Whether the service is paused (by pause() or a maintenance window): 1 paused, 0 not. A flag beside service_status: alert rules add unless on(service) heartbeat_service_paused == 1.',
    type: 'gauge',
    aggregator: 'max',
    value: (record, _manager, now) => (record.pausedAt(now) ? 1 : 0),
  },
  {
    suffix: 'service_shared',
    help: 'Whether the replicas of this app share the service through a shared store (redisStore()): 1 for a remote service there, 0 otherwise. Every replica exports a shared service alike, so alert rules count it once with max by (job, service) over the replicas where heartbeat_service_shared == 1.',
    type: 'gauge',
    aggregator: 'max',
    value: (record, manager) => (record.remote && manager.replicas !== null ? 1 : 0),
  },
  {
    // Only jobs have the series: a plain heartbeat would add one that is always 0 (cardinality).
    suffix: 'run_in_progress',
    help: 'Whether a job run is open (begun, not yet ended): 1 running, 0 idle. Only for services that ran a job or have max_runtime or min_runtime.',
    type: 'gauge',
    aggregator: 'max',
    value: (record) => (record.runs === null ? undefined : record.runs.running ? 1 : 0),
  },
  {
    suffix: 'last_run_duration_seconds',
    help: 'Seconds the last finished job run took. Absent before the first.',
    type: 'gauge',
    aggregator: 'max',
    value: (record) => (record.runs?.lastDurationMs == null ? undefined : record.runs.lastDurationMs / 1000),
  },
  {
    suffix: 'at_risk',
    help: "Whether the service's pulse gaps forecast a missed beat (its trend.at_risk): 1 at risk, 0 not. An early signal beside service_status, which it never changes. 0 while the model learns (the first 10 gaps) and for cron schedules.",
    type: 'gauge',
    aggregator: 'max',
    value: (record) => (record.forecasting?.atRisk ? 1 : 0),
  },
  {
    // Absent, not 0, while the model learns and for cron schedules: a 0 would read as pulses back to back.
    suffix: 'pulse_gap_seconds',
    help: 'Seconds between signs of life, as the trend model sees them: stat="mean" is their moving mean (exponentially weighted over about the last 20 gaps), stat="p95" the 95th percentile of the last 20. Absent while the model learns (the first 10 gaps) and for cron schedules.',
    type: 'gauge',
    aggregator: 'max',
    samples: (record, _now, push) => {
      const gaps = record.forecasting;
      const mean = gaps?.meanGapSeconds ?? null;
      if (gaps === null || mean === null) return;
      push({ service: record.tag, stat: 'mean' }, mean);
      push({ service: record.tag, stat: 'p95' }, gaps.p95GapSeconds as number);
    },
  },
  {
    suffix: 'overall_status',
    help: 'Status of the whole system: 0 healthy, 1 warning, 2 degraded, 3 critical, 4 offline.',
    type: 'gauge',
    aggregator: 'max',
    managerValue: (manager) => {
      const overall = manager.overallStatus();
      return overall === 'offline' ? OFFLINE : STATUS_WORDS.indexOf(overall);
    },
    whenNone: HEALTHY,
  },
  {
    suffix: 'event_loop_lag_seconds',
    help: "How late the monitor's own timer fired last time: event loop lag. Past 0.25 s the monitor counts itself stalled.",
    type: 'gauge',
    aggregator: 'max',
    managerValue: (manager) => manager.monitorHealth().event_loop_lag_seconds,
    whenNone: 0,
  },
  {
    suffix: 'store_errors_total',
    help: 'Writes to the heartbeat store that failed since the manager started; 0 for a memory store.',
    type: 'counter',
    aggregator: 'sum',
    managerValue: (manager) => manager.storeHealth().errors,
    combine: (values) => values.reduce((sum, value) => sum + value, 0),
  },
  {
    // Absent for stores that share nothing: only a store replicas share buffers remote calls.
    suffix: 'store_dropped_signals_total',
    help: 'Remote calls a store the replicas share dropped unshared since the manager started: more waited while it was away than its buffer holds.',
    type: 'counter',
    aggregator: 'sum',
    managerValue: (manager) => manager.storeHealth().droppedSignals,
    combine: (values) => values.reduce((sum, value) => sum + value, 0),
  },
  {
    // Absent, not 0, until a write lands and for a memory store: 0 would read as a store stale since 1970.
    suffix: 'store_last_flush_timestamp_seconds',
    help: 'Unix time of the last successful write to the heartbeat store. Absent before the first and for a memory store.',
    type: 'gauge',
    aggregator: 'max',
    managerValue: (manager) => {
      const { lastWriteAt } = manager.storeHealth();
      return lastWriteAt === null ? undefined : lastWriteAt / 1000;
    },
  },
];

/**
 * A prom-client metric whose values are read from the managers' state at scrape time: nothing
 * is stored or updated between scrapes, and a scrape pays no label hashing. It follows the
 * shape prom-client's registry reads from its own metrics (`name`, `help`, `type`,
 * `aggregator`, `get()`, `reset()`), so it formats, merges and aggregates like them.
 */
class StateMetric {
  constructor(
    public name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    readonly aggregator: Aggregator,
    private readonly family: Family,
    private readonly managers: Set<HeartbeatManager>,
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: Aggregator; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.collect() });
  }

  /** Values come from state, so there is nothing to reset. */
  reset(): void {}

  private collect(): Sample[] {
    const values: Sample[] = [];
    const { value: read, samples, managerValue, combine = largest, whenNone } = this.family;
    for (const manager of this.managers) {
      if (manager.isClosed) {
        this.managers.delete(manager);
        continue;
      }
      if (managerValue) {
        const value = managerValue(manager);
        if (value !== undefined) values.push({ labels: {}, value, sharedLabels: NO_SHARED_LABELS });
        continue;
      }
      const now = manager.clock.now();
      if (samples) {
        const push = (labels: Record<string, string>, value: number) => values.push({ labels, value, sharedLabels: NO_SHARED_LABELS });
        for (const record of manager.listedRecords()) samples(record, now, push);
      } else if (read) {
        for (const record of manager.listedRecords()) {
          const value = read(record, manager, now);
          if (value !== undefined) values.push({ labels: { service: record.tag }, value, sharedLabels: NO_SHARED_LABELS });
        }
      }
    }
    // Several managers on one registry share a single unlabelled series: the worst of them, or the sum of a count.
    if (managerValue && values.length > 1)
      return [{ labels: {}, value: combine(values.map((sample) => sample.value)), sharedLabels: NO_SHARED_LABELS }];
    if (managerValue && values.length === 0 && whenNone !== undefined)
      return [{ labels: {}, value: whenNone, sharedLabels: NO_SHARED_LABELS }];
    return values;
  }
}

/** The worst of several managers' values, as the status and lag families export them. */
function largest(values: number[]): number {
  return Math.max(...values);
}

/** The managers exported through each registry, by prefix. */
const exported = new WeakMap<Registry<RegistryContentType>, Map<string, Set<HeartbeatManager>>>();

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

  let byPrefix = exported.get(registry);
  if (!byPrefix) exported.set(registry, (byPrefix = new Map<string, Set<HeartbeatManager>>()));
  let managers = byPrefix.get(prefix);
  if (!managers) byPrefix.set(prefix, (managers = new Set()));

  // Check every name before registering any, so a conflict leaves the registry as it was.
  for (const family of FAMILIES) {
    const name = `${prefix}${family.suffix}`;
    const existing = registry.getSingleMetric(name) as unknown;
    if (existing !== undefined && !(existing instanceof StateMetric)) {
      throw new Error(
        `Cannot export heartbeat metrics: the registry already has a metric named "${name}" that express-heartbeat did not create. ` +
          `Pass another prefix than ${JSON.stringify(prefix)}: healthRouter({ metricsPrefix: 'app_heartbeat_' }), ` +
          `or registerMetrics(manager, { prefix: 'app_heartbeat_' }) where you register the metrics yourself.`,
      );
    }
  }
  for (const family of FAMILIES) {
    const name = `${prefix}${family.suffix}`;
    if (registry.getSingleMetric(name) !== undefined) continue;
    const metric = new StateMetric(name, family.help, family.type, family.aggregator, family, managers);
    // The registry reads only the members StateMetric has; prom-client's types name its own classes.
    registry.registerMetric(metric as unknown as Metric);
  }
  managers.add(manager);
  const registered = managers;
  return { unregister: () => void registered.delete(manager) };
}
