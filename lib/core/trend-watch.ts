import { isoAt } from '../util/clock';
import type { ServiceRecord } from './service-record';
import type { GapTrendView } from './trend';
import type { TimedTask } from './watcher';

/** A service's `at_risk` changed, as given to `trend` listeners. */
export interface TrendChange {
  /** The service's tag. */
  service: string;
  /**
   * ISO 8601 UTC time of the latest pulse when the change was noticed: the one that turned the
   * verdict, or one after it within the same second (changes are looked for every second).
   */
  time: string;
  /** The service's `trend` as of that pulse (`eta_seconds` counted from it): `at_risk` is the new verdict, `reason` says why. */
  trend: GapTrendView;
}

/**
 * A `trend` listener: called when a service's `at_risk` has turned true or false since the last
 * look (a turn and its undoing within one second are not told). A throw is logged, never rethrown.
 */
export type TrendListener = (change: TrendChange) => void;

/** How often the pulses since the last look are read for a change of `at_risk`: the most a `trend` event lags its pulse. */
export const TREND_CHECK_MS = 1000;

/** What the watch needs of the monitor. */
export interface TrendWatchHost {
  now(): number;
  wallOffset(): number;
  records(): Iterable<ServiceRecord>;
  runAt(task: TimedTask, at: number): void;
  cancel(task: TimedTask): void;
  /** Runs a listener, logging what it throws. */
  safely(work: () => void, what: string): void;
}

/**
 * Announces each change of a service's `at_risk` to the `trend` listeners. The verdict depends
 * on pulse times alone, so it can change only at a pulse; but a pulse must stay constant time
 * with no allocation, so it only records its gap, and this task, on the monitor's one timer
 * every {@link TREND_CHECK_MS}, reads the services that pulsed since its last look (a compare
 * of counters for the others) and announces the flips. It runs only while someone listens.
 */
export class TrendWatch implements TimedTask {
  deadline = 0;
  heapIndex = -1;
  private readonly listeners = new Set<TrendListener>();
  /** Per gap model: the count of gaps it had at the last look, and the verdict announced then. */
  private seen = new WeakMap<object, { gaps: number; atRisk: boolean }>();
  private closed = false;

  constructor(private readonly host: TrendWatchHost) {}

  add(listener: TrendListener): void {
    if (this.closed) return;
    this.listeners.add(listener);
    this.wake();
  }

  remove(listener: TrendListener): void {
    if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
    if (this.heapIndex !== -1) this.host.cancel(this);
    // What was told to listeners now gone: the next one hears of a service at risk afresh.
    this.seen = new WeakMap();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    if (this.heapIndex !== -1) this.host.cancel(this);
  }

  run(now: number): void {
    this.look(now);
    this.wake();
  }

  private wake(): void {
    if (this.closed || this.listeners.size === 0 || this.heapIndex !== -1) return;
    this.host.runAt(this, this.host.now() + TREND_CHECK_MS);
  }

  /** Reads each service whose gap model learnt a gap since the last look, and announces a changed `at_risk`. */
  private look(now: number): void {
    let offset: number | null = null;
    for (const record of this.host.records()) {
      const gaps = record.gaps;
      if (gaps === null || !record.listed) continue;
      const last = this.seen.get(gaps);
      if (last?.gaps === gaps.gapCount) continue;
      // As of its last pulse: the verdict is that pulse's, and so is the countdown.
      const trend = record.trendAt(gaps.lastRecordedAt ?? now);
      if (last === undefined) {
        // First look: a service already at risk is news; one learning or steady is not.
        this.seen.set(gaps, { gaps: gaps.gapCount, atRisk: trend.at_risk });
        if (!trend.at_risk) continue;
      } else {
        last.gaps = gaps.gapCount;
        if (last.atRisk === trend.at_risk) continue;
        last.atRisk = trend.at_risk;
      }
      offset ??= this.host.wallOffset();
      const change: TrendChange = { service: record.tag, time: isoAt(offset, gaps.lastRecordedAt ?? now), trend };
      for (const listener of this.listeners) {
        this.host.safely(() => {
          listener(change);
        }, 'A heartbeat trend listener threw');
      }
    }
  }
}
