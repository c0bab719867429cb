import type { Heartbeat } from '../core/manager';
import type { HeartbeatManager } from '../core/manager';

/**
 * Longest wait between two looks for expired services. Node's timers overflow past 24.8 days
 * (a longer delay fires at once), and `auto_register_ttl` is 7 days by default: so the timer
 * waits at most an hour and looks again.
 */
export const MAX_EXPIRY_WAIT_MS = 3_600_000;
/** Shortest wait, so that a service expiring a hair after a look never spins the timer. */
const MIN_EXPIRY_WAIT_MS = 1000;

/**
 * The services that remote calls created under `auto_register`. They count against
 * `max_services`, are `critical: false` (one pulse to a mistyped name must not fail readiness),
 * and leave after `auto_register_ttl` seconds without a pulse, or when deleted over HTTP.
 * One unref'd timer finds the expired ones; it runs only while there are some, and stops when
 * the manager closes. One per manager, held by its `RemoteIntake` (however many routers mount
 * remote routes), so that `max_services` counts the manager's services; with replicas, each
 * replica keeps its own, fed by the calls it took and those it replayed.
 */
export class RemoteRegistry {
  /** Each registered name and the heartbeat a remote call created for it. */
  private readonly names = new Map<string, Heartbeat>();
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;

  constructor(private readonly manager: HeartbeatManager) {
    this.ttlMs = manager.config.auto_register_ttl * 1000;
    manager.on('close', () => {
      this.disarm();
      this.names.clear();
    });
    // Those a remote call created before a restart, which the manager took up again from its store.
    for (const record of manager.listedRecords()) {
      const heartbeat = manager.get(record.tag);
      if (record.remote && !record.configured && heartbeat && !heartbeat.isReleased) this.names.set(record.tag, heartbeat);
    }
    this.arm(0); // some may have expired while the monitor was down
  }

  /** Services registered now, those stopped by other means no longer counted: their places are free at once. */
  get size(): number {
    for (const [name, heartbeat] of this.names) if (heartbeat.isReleased) this.names.delete(name);
    return this.names.size;
  }

  /** Whether `name` was registered by a remote call and that heartbeat still runs. */
  has(name: string): boolean {
    const heartbeat = this.names.get(name);
    if (!heartbeat) return false;
    if (!heartbeat.isReleased) return true;
    // Stopped by other means (code that took it with manager.get()): no longer ours to count.
    this.names.delete(name);
    return false;
  }

  /** Creates the service `name`, not critical, and counts it. */
  register(name: string): Heartbeat {
    const heartbeat = this.manager.heartbeat({ tag: name, critical: false });
    this.manager.markRemote(name);
    this.names.set(name, heartbeat);
    this.arm(this.ttlMs);
    return heartbeat;
  }

  /** Stops a registered service: it leaves the status, the metrics and the stream, and frees its place. */
  remove(name: string): void {
    this.names.get(name)?.stop();
    this.names.delete(name);
    if (this.names.size === 0) this.disarm();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    if (this.manager.isClosed) return;
    const now = this.manager.clock.now();
    const expired: string[] = [];
    const running = new Set<string>();
    let next = Infinity;
    for (const record of this.manager.listedRecords()) {
      const heartbeat = this.names.get(record.tag);
      if (!heartbeat || heartbeat !== record.handle || heartbeat.isReleased) continue;
      running.add(record.tag);
      // Silence is counted from the last sign of life or the end of a pause, and not during one:
      // a paused service is not expected to pulse (expectFrom is Infinity while a pause has no end).
      const expiresAt = Math.max(record.lastSignAt, record.expectFrom, record.pausedAt(now) ? record.pauseEnd : -Infinity) + this.ttlMs;
      if (expiresAt <= now) expired.push(record.tag);
      else next = Math.min(next, expiresAt);
    }
    // A name whose heartbeat was stopped by other means is no longer ours to count.
    for (const name of this.names.keys()) if (!running.has(name)) this.names.delete(name);
    for (const name of expired) {
      this.remove(name);
      this.manager.logger.info(
        { service: name },
        `Service ${name}, registered by a remote call, had no pulse for ${this.ttlMs / 1000} s (auto_register_ttl): removed`,
      );
    }
    this.arm(next - now);
  };

  /** Makes sure the timer fires within `delayMs` (clamped to the bounds above) while any service is registered. */
  private arm(delayMs: number): void {
    if (this.names.size === 0) return;
    const delay = Math.min(Math.max(delayMs, MIN_EXPIRY_WAIT_MS), MAX_EXPIRY_WAIT_MS);
    const dueAt = this.manager.clock.now() + delay;
    if (this.timer && this.timerDueAt <= dueAt) return;
    this.disarm();
    this.timer = setTimeout(this.expire, delay);
    this.timer.unref();
    this.timerDueAt = dueAt;
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Infinity;
  }
}
