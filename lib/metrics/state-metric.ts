// The heartbeat families as prom-client metrics: registry.metrics() formats them like its own.
import type { Aggregator } from 'prom-client';
import type { HeartbeatManager } from '../core/manager';
import type { ServiceRecord } from '../core/service-record';
import { managerSample, type Family } from './families';

type Sample = { labels: Record<string, string>; value: number; sharedLabels: Readonly<Record<string, never>> };

/**
 * prom-client formats each sample's `sharedLabels` through a WeakMap cache keyed by the
 * object; one frozen empty object for every sample turns a cache insert per line into a hit.
 */
const NO_SHARED_LABELS: Readonly<Record<string, never>> = Object.freeze({});

/** One manager's listed services as of one moment of a scrape. */
export interface ManagerView {
  readonly manager: HeartbeatManager;
  readonly now: number;
  readonly records: readonly ServiceRecord[];
}

/**
 * The managers one registry exports under one prefix, read once per scrape: closed managers
 * are dropped here, so that a closed manager's services leave the output.
 */
export function viewManagers(managers: Set<HeartbeatManager>): ManagerView[] {
  const views: ManagerView[] = [];
  for (const manager of managers) {
    if (manager.isClosed) {
      managers.delete(manager);
      continue;
    }
    views.push({ manager, now: manager.clock.now(), records: [...manager.listedRecords()] });
  }
  return views;
}

/**
 * A prom-client metric whose values are read from the managers' state at scrape time: nothing
 * is stored or updated between scrapes, and a scrape pays no label hashing. It follows the
 * shape prom-client's registry reads from its own metrics (`name`, `help`, `type`,
 * `aggregator`, `get()`, `reset()`), so it formats, merges and aggregates like them.
 */
export class StateMetric {
  constructor(
    public name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    readonly aggregator: Aggregator,
    /** How its values are read. */
    readonly family: Family,
    /** The managers it exports; shared by every family of one registry and prefix. */
    readonly managers: Set<HeartbeatManager>,
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: Aggregator; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.collect() });
  }

  /** Values come from state, so there is nothing to reset. */
  reset(): void {}

  private collect(): Sample[] {
    const values: Sample[] = [];
    const { family } = this;
    const { value: read, samples, managerValue, label = '' } = family;
    const views = viewManagers(this.managers);
    if (managerValue) {
      const given: number[] = [];
      for (const { manager } of views) {
        const value = managerValue(manager);
        if (value !== undefined) given.push(value);
      }
      const value = managerSample(family, given);
      return value === undefined ? [] : [{ labels: {}, value, sharedLabels: NO_SHARED_LABELS }];
    }
    for (const { manager, now, records } of views) {
      for (const record of records) {
        if (samples) {
          samples(record, now, (labelValue, value) =>
            values.push({ labels: { service: record.tag, [label]: labelValue }, value, sharedLabels: NO_SHARED_LABELS }),
          );
          continue;
        }
        const value = read?.(record, manager, now);
        if (value !== undefined) values.push({ labels: { service: record.tag }, value, sharedLabels: NO_SHARED_LABELS });
      }
    }
    return values;
  }
}
