// The heartbeat metric families: each one's name, help, type and how to read its values from a
// service record or a manager. Both ways of exporting them (prom-client's registry.metrics() and
// the router's own renderer) read them from here, so both compute every value the same way.
import type { Aggregator } from 'prom-client';
import { wallTimeOf } from '../util/clock';
import { uptimeRatios } from '../core/history';
import type { HeartbeatManager } from '../core/manager';
import type { ServiceRecord } from '../core/service-record';
import { HEALTHY, OFFLINE, STATUS_WORDS } from '../core/status';

type ServiceValue = (record: ServiceRecord, manager: HeartbeatManager, now: number) => number | undefined;
/**
 * For families with one label besides `service` (named by the family's `label`): pushes any
 * number of samples for one service, each with that label's value.
 */
export type ServiceSamples = (record: ServiceRecord, now: number, push: (labelValue: string, value: number) => void) => void;

/** One exported family: a name, a help text and how to read one service's value. */
export interface Family {
  suffix: string;
  help: string;
  type: 'gauge' | 'counter';
  aggregator: Aggregator;
  /** One value per service, labelled `service`. */
  value?: ServiceValue;
  /** Any number of samples per service, each labelled `service` and `label`. */
  samples?: ServiceSamples;
  /** The second label of `samples` families, after `service`. */
  label?: string;
  /** One value per manager, without labels, or `undefined` for none; several managers on a registry export one sample (`combine`). */
  managerValue?: (manager: HeartbeatManager) => number | undefined;
  /** How the values of several managers on one registry combine into the one sample. Defaults to the largest. */
  combine?: (values: number[]) => number;
  /** The sample while no manager gives a value; without it, the series is absent. */
  whenNone?: number;
}

export const FAMILIES: readonly Family[] = [
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
    label: 'window',
    samples: (record, now, push) => {
      for (const [window, ratio] of Object.entries(uptimeRatios(record, now))) push(window, ratio);
    },
  },
  {
    suffix: 'service_metric',
    help: 'Custom metrics sent with pulses, e.g. heartbeat.pulse({ queue_depth: 12 }).',
    type: 'gauge',
    aggregator: 'sum',
    label: 'metric',
    samples: (record, _now, push) => {
      if (record.customMetrics) for (const [metric, value] of record.customMetrics) push(metric, value);
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
    label: 'stat',
    samples: (record, _now, push) => {
      const gaps = record.forecasting;
      const mean = gaps?.meanGapSeconds ?? null;
      if (gaps === null || mean === null) return;
      push('mean', mean);
      push('p95', gaps.p95GapSeconds as number);
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
    combine: total,
  },
  {
    // Absent for stores that share nothing: only a store replicas share buffers remote calls.
    suffix: 'store_dropped_signals_total',
    help: 'Remote calls a store the replicas share dropped unshared since the manager started: more waited while it was away than its buffer holds.',
    type: 'counter',
    aggregator: 'sum',
    managerValue: (manager) => manager.storeHealth().droppedSignals,
    combine: total,
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

/** The labels each family's samples carry, in the order prom-client writes them. */
export function labelNamesOf(family: Family): readonly string[] {
  if (family.managerValue) return [];
  return family.label === undefined ? ['service'] : ['service', family.label];
}

/**
 * The one sample of a manager-level family: the values of several managers on one registry
 * combined (the worst of them, or the sum of a count), `whenNone` when no manager gives one,
 * and `undefined` for no sample at all.
 */
export function managerSample(family: Family, values: readonly number[]): number | undefined {
  if (values.length === 0) return family.whenNone;
  if (values.length === 1) return values[0];
  return (family.combine ?? largest)([...values]);
}

/** The sum of several managers' counts, as the store counters export them. */
function total(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0);
}

/** The worst of several managers' values, as the status and lag families export them. */
function largest(values: number[]): number {
  return Math.max(...values);
}
