// The rules that keep alerts quiet (issue 17): paused services say nothing, and a dependent
// whose dependency is down is held, so one outage sends one alert. What the dispatcher says
// once the quiet ends (a pause's end, a dependency's recovery) is worded and decided here.
import { DependencyGraph } from '../core/dependencies';
import type { HeartbeatManager, StatusChange } from '../core/manager';
import { MAINTENANCE } from '../core/pauses';
import { DEGRADED, STATUS_WORDS, type ServiceStatus } from '../core/status';

type Cause = StatusChange['cause'];

/**
 * Whether a change to a bad status with this cause alerts. `alert_on_miss: false` silences
 * missed beats only: reported errors and job runtimes (`max_runtime`, `min_runtime`) alert
 * whatever it says, as a run that hangs is not a heartbeat nobody expected.
 */
export function alertsOn(cause: Cause, alertOnMiss: boolean): boolean {
  return cause !== 'missed' || alertOnMiss;
}

/** Whether `status` is down in the dependency sense: degraded or critical, the levels that hold dependents. */
export function isDown(status: ServiceStatus): boolean {
  return STATUS_WORDS.indexOf(status) >= DEGRADED;
}

/** Whether `change` brought a service back from down: its dependents may be held no more. */
export function leftDown(change: StatusChange): boolean {
  return isDown(change.from) && !isDown(change.to);
}

/** The reason of an alert sent when a pause ends: `still critical after maintenance: missed 3 heartbeats`. */
export function afterPauseReason(status: ServiceStatus, pauseReason: string, lastReason: string | null): string {
  const after = pauseReason === MAINTENANCE ? 'maintenance' : 'pause';
  return status === 'healthy' ? `healthy after ${after}` : `still ${status} after ${after}${lastReason === null ? '' : `: ${lastReason}`}`;
}

/** The reason of a held dependent's alert once its dependency recovered: `still critical after save_worker recovered: missed 3 heartbeats`. */
export function afterDependencyReason(status: ServiceStatus, dependency: string, lastReason: string | null): string {
  return `still ${status} after ${dependency} recovered${lastReason === null ? '' : `: ${lastReason}`}`;
}

/**
 * The services each service's outage affects (its dependents, transitively), read from the
 * config once per configured tag: the config cannot change, and a storm asks for the same
 * tags again.
 */
export class Dependents {
  private readonly graph: DependencyGraph;

  constructor(manager: HeartbeatManager) {
    // Only configured services have depends_on, or are named in one: the graph is the config's.
    this.graph = new DependencyGraph(manager.config.services);
  }

  of(tag: string): readonly string[] {
    return this.graph.dependentsOf(tag);
  }
}

/**
 * Dependencies that recovered in this turn of the event loop, whose dependents are looked at
 * once the turn is over: a dependent's own change in the same timer firing (announced after its
 * dependency's, or before it) has then been heard, so it is alerted for what it is, once.
 */
export class RecoveredDependencies {
  private readonly tags = new Set<string>();
  private closed = false;

  constructor(private readonly release: (dependency: string) => void) {}

  add(tag: string): void {
    if (this.closed) return;
    // A promise job, not queueMicrotask(), which fake timers may hold back (as the alerts' stamp).
    if (this.tags.size === 0) void Promise.resolve().then(this.flush);
    this.tags.add(tag);
  }

  close(): void {
    this.closed = true;
    this.tags.clear();
  }

  private readonly flush = (): void => {
    const tags = [...this.tags];
    this.tags.clear();
    if (this.closed) return;
    for (const tag of tags) this.release(tag);
  };
}

/** A dependent that is down and held by a dependency right now, as the manager has it: at a start, nothing told the dispatcher so. */
export interface HeldAtStart {
  readonly service: string;
  readonly status: ServiceStatus;
  readonly reason: string | null;
  readonly cause: Cause;
}

/**
 * The configured dependents that are bad and held when a dispatcher starts (after a restart,
 * its dependency still down): its recovery must alert them as if their change had been heard.
 * The reason is the latest change's in the history; whether it was missed beats is read from
 * its wording, since only missed beats are silenced by `alert_on_miss: false`.
 */
export function heldAtStart(manager: HeartbeatManager): HeldAtStart[] {
  const held: HeldAtStart[] = [];
  for (const [service, configured] of Object.entries(manager.config.services)) {
    if (configured.depends_on.length === 0) continue;
    const health = manager.service(service);
    if (!health || health.status === 'healthy' || health.suppressed_by === null || health.paused !== null) continue;
    const latest = manager.history(service, { limit: 1 })?.transitions[0];
    const reason = latest && latest.to !== 'healthy' ? latest.reason : null;
    held.push({
      service,
      status: health.status,
      reason,
      cause: reason !== null && /^missed \d+ heartbeats?$/.test(reason) ? 'missed' : 'error',
    });
  }
  return held;
}
