import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, register as globalRegister, type Registry, type RegistryContentType } from 'prom-client';
import { isoAt, isoTimeOf, wallOffset } from '../util/clock';
import { graceMs } from '../core/config';
import type { HeartbeatManager, PauseChange, StatusChange } from '../core/manager';
import { TREND_CHECK_MS, type TrendChange } from '../core/trend-watch';
import { DeadlineScheduler } from '../core/scheduler';
import type { OverallStatus, ServiceStatus } from '../core/status';
import { DAY } from '../core/uptime';
import { OptionReader } from '../util/validate';
import type { Alert, AlertLevel, AlertStatus, Notifier } from './alert';
import { AT_RISK_RANK, ServiceAlertState, latestAlertAt, levelAt, levelRank, rankOf, worstAlerted, type Incident } from './alert-state';
import { AlertLead } from './alert-lead';
import { TargetQueue, type DeliverySettings } from './delivery';
import { Dependents, RecoveredDependencies, afterDependencyReason, afterPauseReason, alertsOn, heldAtStart, leftDown } from './quiet-rules';
import { INCIDENT_NOTES, SavedIncidents, type RestoredIncident } from './saved-incidents';
import { webhookNotifier } from './webhook';

/** Where alerts go: a webhook URL, or any notifier. */
export type AlertTarget =
  | {
      /** Where to POST the alert JSON (see `webhookNotifier()`). A secret: it never appears in logs, JSON or metrics. */
      readonly url: string;
      /** The target's name in logs and metrics. Defaults to `webhook-N`, N being its position in `targets`, from 1. */
      readonly name?: string;
      /** Extra request headers, e.g. an authorization header the receiver wants. Defaults to none. */
      readonly headers?: Readonly<Record<string, string>>;
      /** The least severe status this target is alerted about. Defaults to `warning`; `at_risk` adds a healthy service's drift toward a miss. */
      readonly minLevel?: AlertLevel;
    }
  | {
      /** Any notifier: Slack, ntfy, email; it is named by its own `name`. */
      readonly notifier: Notifier;
      /** The least severe status this target is alerted about. Defaults to `warning`; `at_risk` adds a healthy service's drift toward a miss. */
      readonly minLevel?: AlertLevel;
    };

/** What `new AlertDispatcher()` takes: the targets, and how hard each delivery is tried. */
export interface AlertDispatcherOptions {
  /**
   * Where alerts go. `minLevel` (default `warning`) is the least severe status a target hears
   * about: `warning`, `degraded`, `critical`, or `at_risk` to hear too when a healthy service's
   * pulses drift toward a miss (its `trend.at_risk`).
   */
  readonly targets: readonly AlertTarget[];
  /** Milliseconds per delivery attempt: a whole number from 1 to 2147483647, the longest a Node timer waits. Defaults to 5000. */
  readonly timeoutMs?: number;
  /** Attempts per alert, the first included. Defaults to 3. */
  readonly attempts?: number;
  /** Milliseconds before the first retry (a whole number from 0 to 2147483647); each further retry waits twice as long, at most 2147483647. Defaults to 1000. */
  readonly backoffMs?: number;
  /** Alerts waiting per target; past it the oldest is dropped. Defaults to 100. */
  readonly queueSize?: number;
  /** The prom-client registry for the alert counters. Defaults to prom-client's global `register`. */
  readonly registry?: Registry<RegistryContentType>;
}

const OPTION_KEYS = ['targets', 'timeoutMs', 'attempts', 'backoffMs', 'queueSize', 'registry'] as const;
const LEVELS: readonly AlertLevel[] = ['at_risk', 'warning', 'degraded', 'critical'];
/** Why an `at_risk` incident open at a restart is resolved: the gap model behind it starts again from nothing. */
const RISK_RELEARNT = 'no longer at risk: the trend is learnt afresh after a restart';
/** States kept before the first sweep; later sweeps wait for twice what the last one kept, so idle states stay bounded whatever tags come and go. */
const MAX_IDLE_STATES = 2000;

/** What the dispatcher remembers of one service, with its incidents per target queue. */
type ServiceState = ServiceAlertState<TargetQueue>;

/**
 * Turns the manager's status changes into alerts people can trust: one per transition and
 * target, at or above the target's `minLevel`; a `resolved` alert (with the time down) only
 * for an incident that was alerted; missed beats ignored when `alert_on_miss` is false; a
 * flapping service (more than `flap_threshold` changes within `flap_window`) reported once
 * and held until it is calm; recoveries announced after `recover_after` on-time pulses;
 * reminders every `repeat_every` seconds while critical, if set. A paused service says nothing
 * until its pause ends, then what changed, once; a service whose dependency is down is held
 * until that recovers (recoveries are never held), and the dependency's alert lists it as
 * `affected` (see quiet-rules.ts). Closing the manager closes it, so a shutdown sends nothing
 * for the services it stops.
 *
 * A target whose `minLevel` is `at_risk` also hears when a healthy service turns at risk (the
 * manager's `trend` event): an `at_risk` alert opens an incident that a `warning` or worse
 * escalates, and a `resolved` closes it once the risk is gone (or at the recovery of a status
 * it was alerted, as any; after a restart, as the trend is learnt afresh). Only with such a
 * target does the dispatcher listen to `trend`, which keeps the manager's trend check running
 * every second.
 *
 * With a store the replicas share, every replica's dispatcher follows the shared services'
 * changes and keeps their incidents, but only the holder of the alert lease tells the targets
 * and saves those incidents in the shared notes; the replica that takes the lease over reads
 * them and says what the previous holder had not (see `takeUp`). Each replica alerts for its
 * own in-process services.
 */
export class AlertDispatcher {
  private readonly queues: TargetQueue[];
  /** The open incidents, as kept in the manager's store. */
  private readonly saved: SavedIncidents<TargetQueue>;
  private readonly states = new Map<string, ServiceState>();
  private readonly scheduler: DeadlineScheduler<ServiceState>;
  private readonly dependents: Dependents;
  private readonly recovered: RecoveredDependencies;
  private readonly logger: Logger;
  /** The alert lease, with a store the replicas share; null without one: then every service is this replica's own. */
  private readonly lead: AlertLead | null;
  /**
   * Incidents this replica opened while their service was its own (in-process, or before its
   * first remote call): it alerted them, and it closes them, whoever holds the lease.
   */
  private readonly ownIncidents = new WeakSet<Incident>();
  /** Incidents of shared services this replica alerted as the lease's holder: see `takeUp`. */
  private readonly sentAsLeader = new WeakSet<Incident>();
  private readonly counters: { sent: Counter<'target'>; failed: Counter<'target'>; dropped: Counter };
  private closed = false;
  /** Targets whose latest re-send of their open alerts failed (see `resent`). */
  private readonly resendsFailing = new Set<string>();
  /** Alerts made in this turn of the event loop, waiting for the turn's one reading of the overall status. */
  private readonly unstamped: Alert[] = [];
  /** The number of states at which the next sweep runs: twice what the last one kept, so sweeps cost O(1) per state. */
  private sweepAt = MAX_IDLE_STATES;
  /** Whether a target hears `at_risk`: only then is the manager's `trend` event listened to. */
  private readonly hearsTrend: boolean;

  constructor(
    private readonly manager: HeartbeatManager,
    options: AlertDispatcherOptions,
  ) {
    const read = new OptionReader('Invalid AlertDispatcher options');
    const given = read.object('', options, OPTION_KEYS);
    if (!Array.isArray(given.targets)) read.fail('targets', given.targets, 'an array of { url } or { notifier } targets');
    const settings: DeliverySettings = {
      timeoutMs: given.timeoutMs === undefined ? 5000 : read.durationMs('timeoutMs', given.timeoutMs, 1, 'e.g. 5000'),
      attempts: given.attempts === undefined ? 3 : read.integer('attempts', given.attempts, 1, 'e.g. 3'),
      backoffMs: given.backoffMs === undefined ? 1000 : read.durationMs('backoffMs', given.backoffMs, 0, 'e.g. 1000'),
      queueSize: given.queueSize === undefined ? 100 : read.integer('queueSize', given.queueSize, 1, 'of alerts, e.g. 100'),
    };
    this.logger = manager.logger.child({ component: 'alerts' });
    this.counters = alertCounters((given.registry as Registry<RegistryContentType> | undefined) ?? globalRegister);
    const events = {
      sent: (target: string, alert: Alert, attempts: number) => {
        this.counters.sent.inc({ target });
        this.logger.info({ target, alert_id: alert.id, service: alert.service, status: alert.status, attempts }, `Alert sent to ${target}`);
      },
      failed: (target: string, alert: Alert, attempts: number, reason: string) => {
        this.counters.failed.inc({ target });
        this.logger.warn(
          { target, alert_id: alert.id, service: alert.service, status: alert.status, attempts, reason },
          `Alert to ${target} failed: ${reason}`,
        );
      },
      dropped: (target: string, alert: Alert) => {
        this.counters.dropped.inc();
        this.logger.warn(
          { target, alert_id: alert.id, service: alert.service },
          `Alert queue for ${target} is full: dropped the oldest alert`,
        );
      },
    };
    this.queues = (given.targets as unknown[]).map((target, index) => {
      const key = `targets[${index}]`;
      const entry = read.object(key, target, ['url', 'name', 'headers', 'notifier', 'minLevel']);
      const minLevel = entry.minLevel === undefined ? 'warning' : read.oneOf(`${key}.minLevel`, entry.minLevel, LEVELS);
      const notifier =
        entry.notifier !== undefined
          ? checkNotifier(read, key, entry.notifier)
          : webhookNotifier({
              ...(entry as { url: string; headers?: Record<string, string> }),
              name: targetName(read, key, entry.name, index),
            });
      // Series start at 0, so Prometheus sees the first failure as an increase.
      this.counters.sent.inc({ target: notifier.name }, 0);
      this.counters.failed.inc({ target: notifier.name }, 0);
      return new TargetQueue(notifier, minLevel, settings, events);
    });
    this.saved = new SavedIncidents(
      manager,
      this.logger,
      this.queues.map((queue) => [queue, queue.notifier.name]),
      manager.replicas,
    );
    this.lead =
      manager.replicas &&
      new AlertLead(
        manager.replicas,
        INCIDENT_NOTES,
        (notes) => {
          this.takeUp(notes);
        },
        this.logger,
      );
    this.scheduler = new DeadlineScheduler(manager.clock, (state, now) => {
      this.onDue(state, now);
    });
    this.dependents = new Dependents(manager);
    this.recovered = new RecoveredDependencies((dependency) => {
      this.releaseDependents(dependency);
    });
    this.restoreIncidents();
    this.restoreHeld();
    manager.on('status', this.onStatus);
    manager.on('pause', this.onPause);
    this.hearsTrend = this.queues.some((queue) => queue.minLevel === 'at_risk');
    if (this.hearsTrend) manager.on('trend', this.onTrend);
    manager.on('close', () => {
      this.close();
    });
    this.lead?.start();
  }

  /** Alerts waiting or in flight, over all targets. */
  get pending(): number {
    return this.queues.reduce((sum, queue) => sum + queue.pending, 0);
  }

  /** Stops listening, drops what is queued and aborts what is in flight. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.manager.off('status', this.onStatus);
    this.manager.off('pause', this.onPause);
    if (this.hearsTrend) this.manager.off('trend', this.onTrend);
    this.recovered.close();
    this.lead?.close();
    this.scheduler.close();
    for (const queue of this.queues) {
      queue.close();
      this.toTarget(queue, 'close', (notifier) => notifier.close?.());
    }
  }

  private readonly onStatus = (change: StatusChange): void => {
    const now = this.manager.clock.now();
    const state = this.stateOf(change.service);
    if (state.unconfirmed) {
      state.unconfirmed = false;
      // The manager had the service healthy: it recovered before the restart (the process
      // died between saving the recovery and closing the incident), so the incident is over.
      // Unless it is paused: then the pause's end tells.
      if (change.from === 'healthy' && !change.paused)
        this.resolve(state, now, change.time, this.onlyAtRisk(state) ? RISK_RELEARNT : undefined);
    }
    state.settleAt = null;
    state.current = change.to;
    state.lastChange = change;
    state.recoverAt = null;
    if (change.to === 'healthy') state.held = false;
    else state.lastBad = { reason: change.reason, cause: change.cause };
    if (leftDown(change) && this.dependents.of(change.service).length > 0) this.recovered.add(change.service);
    if (change.paused) {
      // Nothing is said while paused, nor is it counted as flapping: the pause's end says what changed (onPause).
      state.remindAt = null;
      this.reschedule(state);
      return;
    }
    const { flap_threshold, flap_window } = this.manager.config;
    const windowMs = flap_window * 1000;
    state.changes.push(now);
    while (state.changes.length > flap_threshold + 1 || (state.changes[0] as number) < now - windowMs) state.changes.shift();
    state.flapWorst = Math.max(state.flapWorst, rankOf(change.to));

    if (!state.flapping && state.changes.length > flap_threshold) {
      state.flapping = true;
      state.remindAt = null;
      const reason = `changed status ${state.changes.length} times within ${flap_window} s; alerts are held until it is calm for ${flap_window} s`;
      // Flapping along with a dependency that is down is that dependency's story, told by its own alerts.
      if (change.suppressed_by === null) this.send(state, 'flapping', change.from, reason, state.flapWorst, change.time);
    }
    if (state.flapping) {
      state.stableAt = now + windowMs;
    } else if (change.to === 'healthy') {
      // Never held by a dependency: an alerted incident always gets its resolved.
      this.recovering(state, now, change.time);
    } else if (change.suppressed_by !== null) {
      state.held = true;
    } else if (alertsOn(change.cause, this.manager.config.alert_on_miss)) {
      state.held = false;
      this.escalate(state, change.from, change.reason, now, change.time);
    }
    this.reschedule(state);
  };

  /**
   * A pause began: nothing waits to be said until it ends (reminders, a recovery's pulses,
   * the calm after flapping). A pause ended: the service's status now is compared with what
   * its targets last heard, and the difference is said once.
   */
  private readonly onPause = (change: PauseChange): void => {
    const now = this.manager.clock.now();
    // Its status after a restart is confirmed here, as by a change: the pause's end reads it.
    const tracked = this.states.get(change.service);
    if (tracked) {
      tracked.unconfirmed = false;
      tracked.settleAt = null;
    }
    if (change.paused) {
      // A paused dependency holds no one (see suppressed_by): its held dependents are said now.
      if (this.dependents.of(change.service).length > 0) this.recovered.add(change.service);
      const state = this.states.get(change.service);
      if (!state) return;
      state.remindAt = null;
      state.recoverAt = null;
      state.stableAt = null;
      state.flapping = false;
      state.flapWorst = 0;
      state.changes.length = 0;
      this.reschedule(state);
      return;
    }
    // Called as the pause's end is taken in, before the monitor reports a change it brings:
    // the status read here is already the new one, and that change finds it said.
    const health = this.manager.service(change.service);
    if (!health || health.paused !== null) return;
    const known = this.states.get(change.service);
    if (!known && health.status === 'healthy') return; // nothing was alerted, nothing to say
    const state = known ?? this.stateOf(change.service);
    state.current = health.status;
    if (health.status === 'healthy') {
      state.held = false;
      // Healthy at a pause's end only means nothing is expected yet (the fresh interval): a
      // service that died before the pause would read healthy too. Its recovery waits for
      // recover_after pulses from here, at least one, so a dead one is never resolved.
      this.recovering(state, now, change.time, afterPauseReason('healthy', change.reason, null), true);
      // Nothing open: a service that turned at risk while paused is said at risk now.
      if (state.incidents.size === 0) this.sayAtRisk(state, now, change.time);
    } else if (health.suppressed_by !== null && !this.alertedAtLeast(state)) {
      state.held = true;
    } else if (alertsOn(state.lastBad?.cause ?? 'error', this.manager.config.alert_on_miss)) {
      state.held = false;
      this.escalate(
        state,
        state.lastChange?.from ?? 'healthy',
        afterPauseReason(health.status, change.reason, state.lastBad?.reason ?? null),
        now,
        change.time,
      );
    }
    this.reschedule(state);
  };

  /**
   * A service's `trend.at_risk` turned: at risk and healthy, the targets of `minLevel` `at_risk`
   * hear so (sayAtRisk); no longer at risk, an incident that never went past `at_risk` is
   * resolved. One already open at a worse level goes on: its recovery resolves it.
   */
  private readonly onTrend = (change: TrendChange): void => {
    const known = this.states.get(change.service);
    if (!change.trend.at_risk && !known) return;
    const state = known ?? this.stateOf(change.service);
    const now = this.manager.clock.now();
    state.atRisk = change.trend.at_risk;
    if (state.atRisk) {
      state.atRiskReason = change.trend.reason;
      this.sayAtRisk(state, now, change.time);
      return;
    }
    // Healthy, it was held for its risk alone.
    if (state.current === 'healthy') state.held = false;
    if (state.incidents.size === 0 || state.current !== 'healthy' || state.flapping || state.recoverAt !== null) return;
    // Paused: the pause's end says where it stands.
    if (this.manager.service(change.service)?.paused != null) return;
    for (const incident of state.incidents.values()) if (incident.alertedRank !== AT_RISK_RANK) return;
    this.resolve(state, now, change.time, `no longer at risk: ${change.trend.reason}`);
    this.reschedule(state);
  };

  /**
   * A healthy service at risk: each target of `minLevel` `at_risk` with no incident of it open
   * hears so, with the reason of the trend, unless it is paused or flapping (their ends say
   * it), or a dependency that is down holds it (its recovery does).
   */
  private sayAtRisk(state: ServiceState, now: number, time?: string): void {
    if (!this.hearsTrend || !state.atRisk || state.current !== 'healthy' || state.flapping) return;
    const health = this.manager.service(state.service);
    // Warning or worse already: its incident is open, or a target's level is not met. No longer
    // at risk as of its latest pulse: the trend event that says so is on its way.
    if (!health || health.paused !== null || health.status !== 'healthy' || !health.trend.at_risk) return;
    if (health.suppressed_by !== null) {
      state.held = true;
      return;
    }
    state.held = false;
    // The trend as of the latest pulse says it best (a recovery, or a dependency's, may come long after the event).
    state.atRiskReason = health.trend.reason;
    for (const queue of this.queues) {
      if (queue.minLevel !== 'at_risk' || state.incidents.has(queue)) continue;
      const incident: Incident = { since: now, alertedRank: AT_RISK_RANK, reminders: 0, lastAlertAt: now };
      state.incidents.set(queue, incident);
      this.tell(state, queue, incident, false, () => this.alert(state.service, 'at_risk', 'healthy', state.atRiskReason, time));
    }
  }

  /**
   * `dependency` is no longer down: each of its dependents that is still bad and was held is
   * alerted once on its own, unless something else holds it now (another dependency still
   * down, a pause of its own, flapping).
   */
  private releaseDependents(dependency: string): void {
    const now = this.manager.clock.now();
    for (const tag of this.dependents.of(dependency)) {
      const state = this.states.get(tag);
      if (!state?.held || state.flapping) continue;
      const health = this.manager.service(tag);
      if (!health || health.suppressed_by !== null || health.paused !== null) continue;
      state.held = false;
      // Recovered meanwhile: its own change says so (and had nothing alerted to resolve). Held
      // while healthy, it was for its risk: that is said now.
      if (health.status === 'healthy') {
        this.sayAtRisk(state, now);
        continue;
      }
      state.current = health.status;
      if (!alertsOn(state.lastBad?.cause ?? 'error', this.manager.config.alert_on_miss)) continue;
      const previous = state.lastChange?.from ?? 'healthy';
      this.escalate(state, previous, afterDependencyReason(health.status, dependency, state.lastBad?.reason ?? null), now);
      this.reschedule(state);
    }
  }

  /**
   * Whether every target that hears of the service's status now has heard of it at that level
   * or worse: escalating it again sends nothing, only takes up its reminders, so a dependency
   * being down is no reason to hold it.
   */
  private alertedAtLeast(state: ServiceState): boolean {
    const rank = rankOf(state.current);
    let heard = false;
    for (const queue of this.queues) {
      if (rank < levelRank(queue.minLevel)) continue;
      const incident = state.incidents.get(queue);
      if (!incident || incident.alertedRank < rank) return false;
      heard = true;
    }
    return heard;
  }

  /** A bad status: alert each target that hears of it and has not heard of this incident at this level. */
  private escalate(state: ServiceState, previous: ServiceStatus, reason: string, now: number, time?: string): void {
    const rank = rankOf(state.current);
    for (const queue of this.queues) {
      if (rank < levelRank(queue.minLevel)) continue;
      let incident = state.incidents.get(queue);
      if (incident && rank <= incident.alertedRank) continue;
      if (incident) {
        incident.alertedRank = rank;
        incident.lastAlertAt = now;
      } else {
        incident = { since: now, alertedRank: rank, reminders: 0, lastAlertAt: now };
        state.incidents.set(queue, incident);
      }
      this.tell(state, queue, incident, false, () => this.alert(state.service, state.current as AlertLevel, previous, reason, time));
    }
    const repeat = this.manager.config.repeat_every;
    state.remindAt = state.current === 'critical' && repeat > 0 && state.incidents.size > 0 ? now + repeat * 1000 : null;
  }

  /** Healthy again: resolve at once, or after `recover_after` on-time pulses; incidents only of its risk go by the trend (settleAtRisk). */
  private recovering(state: ServiceState, now: number, time?: string, reason?: string, afterPause = false): void {
    state.remindAt = null;
    if (state.incidents.size === 0 || this.settleAtRisk(state, now, time)) return;
    // A pulse made this recovery, and counts as the first of recover_after; a pause's end did not.
    const needs = this.manager.config.recover_after - (afterPause ? 0 : 1);
    if (needs <= 0) {
      this.resolve(state, now, time, reason);
      return;
    }
    state.recoveryReason = reason ?? null;
    state.recoverNeeds = needs;
    const service = this.manager.service(state.service);
    state.recoverFromPulses = service?.total_pulses ?? 0;
    state.recoverAt = now + needs * (service?.interval ?? this.manager.config.default_interval) * 1000;
  }

  /** Whether `state` has incidents open, none of them alerted past `at_risk`. */
  private onlyAtRisk(state: ServiceState): boolean {
    if (state.incidents.size === 0) return false;
    for (const incident of state.incidents.values()) if (incident.alertedRank !== AT_RISK_RANK) return false;
    return true;
  }

  /**
   * A healthy service (recovered from a miss its targets never heard of, as `alert_on_miss`
   * false or a dependency down keep quiet; at a pause's end, a restart, a takeover) whose open
   * incidents never went past `at_risk`: they are about its risk, not its status. Still at risk
   * as of its latest pulse, they stay open; else they are resolved now, with `reason` or the
   * trend's (`no longer at risk: steady`). Returns false if some incident went past `at_risk`.
   */
  private settleAtRisk(state: ServiceState, now: number, time?: string, reason?: string): boolean {
    if (!this.onlyAtRisk(state)) return false;
    const trend = this.manager.service(state.service)?.trend;
    if (trend?.at_risk === true) return true;
    this.resolve(state, now, time, reason ?? (trend ? `no longer at risk: ${trend.reason}` : RISK_RELEARNT));
    return true;
  }

  /**
   * Closes every open incident with a `resolved`; `reason` defaults to the latest change's. A
   * healthy service still at risk then opens its `at_risk` incident anew (sayAtRisk).
   */
  private resolve(state: ServiceState, now: number, time?: string, reason?: string): void {
    // After a pause the latest change is the pause's own: what the targets last heard is the status before.
    const previous = reason === undefined ? (state.lastChange?.from ?? worstAlerted(state)) : worstAlerted(state);
    reason ??= state.lastChange?.reason ?? 'recovered';
    for (const [queue, incident] of state.incidents) {
      this.tell(state, queue, incident, true, () => {
        // An incident that never went past at_risk: the service was healthy throughout.
        const alert = this.alert(state.service, 'resolved', incident.alertedRank === AT_RISK_RANK ? 'at_risk' : previous, reason, time);
        alert.down_seconds = Math.round((now - incident.since) / 1000);
        return alert;
      });
    }
    state.incidents.clear();
    state.recoverAt = null;
    state.recoveryReason = null;
    this.sayAtRisk(state, now);
  }

  private onDue(state: ServiceState, now: number): void {
    if (state.settleAt !== null && now >= state.settleAt) {
      state.settleAt = null;
      this.settleUnconfirmed(state, now);
    }
    if (state.recoverAt !== null && now >= state.recoverAt) {
      state.recoverAt = null;
      // Still healthy, and recover_after − 1 more pulses came: that many on-time pulses in a
      // row (a late one would have changed the status, which cancels this). Not yet: look again.
      const pulses = this.manager.service(state.service)?.total_pulses ?? 0;
      if (state.current === 'healthy' && pulses - state.recoverFromPulses >= state.recoverNeeds)
        this.resolve(state, now, undefined, state.recoveryReason ?? undefined);
      else if (state.current === 'healthy') state.recoverAt = now + ((this.manager.service(state.service)?.interval ?? 1) * 1000) / 10;
    }
    if (state.stableAt !== null && now >= state.stableAt) {
      state.stableAt = null;
      state.flapping = false;
      state.flapWorst = rankOf(state.current);
      state.changes.length = 0;
      const reason = `calm again after flapping, now ${state.current}`;
      if (state.current === 'healthy') this.resolve(state, now);
      else if (this.manager.service(state.service)?.suppressed_by != null && !this.alertedAtLeast(state)) state.held = true;
      else this.escalate(state, 'healthy', reason, now);
    }
    if (state.remindAt !== null && now >= state.remindAt) {
      state.remindAt = null;
      if (state.current === 'critical') {
        for (const [queue, incident] of state.incidents) {
          const reminder = ++incident.reminders;
          incident.lastAlertAt = now;
          this.tell(state, queue, incident, false, () => {
            const alert = this.alert(
              state.service,
              'critical',
              state.lastChange?.from ?? 'critical',
              `still critical: ${state.lastChange?.reason ?? ''}`,
            );
            alert.reminder = reminder;
            return alert;
          });
        }
        state.remindAt = now + this.manager.config.repeat_every * 1000;
      }
    }
    this.reschedule(state);
  }

  /**
   * A service nothing ran at the restart, whose restored incidents never went past `at_risk`:
   * once it runs again, healthy and not paused, they are resolved (its gap model learns afresh);
   * paused, the pause's end says where it stands; until then it is looked for every
   * {@link TREND_CHECK_MS}, as long as the manager would remember it.
   */
  private settleUnconfirmed(state: ServiceState, now: number): void {
    if (!state.unconfirmed || !this.onlyAtRisk(state)) return;
    const health = this.manager.service(state.service);
    if (!health) {
      if (latestAlertAt(state) < now - this.manager.config.retention_days * DAY) this.forget(state);
      else state.settleAt = now + TREND_CHECK_MS;
      return;
    }
    state.unconfirmed = false;
    state.current = health.status;
    // Bad: its change (come, or on its way) says so.
    if (health.paused === null && health.status === 'healthy') this.settleAtRisk(state, now, undefined, RISK_RELEARNT);
  }

  /** Takes up the incidents the manager's store kept for these targets; each service goes on from its status now. */
  private restoreIncidents(): void {
    const saved = this.saved.restore();
    // Kept in the manager's store: this replica alerted them, as its own.
    for (const { incident } of saved) this.ownIncidents.add(incident);
    const restored = this.adopt(saved, () => false);
    const now = this.manager.clock.now();
    for (const state of restored) this.resume(state, now, 'restart');
    this.resumeTargets();
    if (restored.size > 0) {
      this.logger.info(
        { services: restored.size },
        `Restored the open alert incidents of ${restored.size} service${restored.size === 1 ? '' : 's'}`,
      );
    }
  }

  /**
   * This replica took the alert lease, and `notes` are the shared notes as it found them: what
   * it believed was sent about the shared services gives way to what the notes say was, and
   * each goes on from its status now, as after a restart. A note of a tag that is this
   * replica's own in-process service is not about it, and left alone.
   */
  private takeUp(notes: ReadonlyMap<string, unknown>): void {
    const ownTag = (service: string): boolean => this.manager.service(service) !== undefined && !this.manager.isShared(service);
    const restored = this.saved.fromShared(notes).filter(({ service }) => !ownTag(service));
    // This replica's own incidents are not the notes' business: they stay. What it alerted
    // itself while it held the lease before, and is still open, was sent whatever the notes
    // say: a Redis that restarted empty lost them. Without this, its lease taken back would
    // alert every open incident again.
    const ownSends: Array<[ServiceState, TargetQueue, Incident]> = [];
    for (const state of this.states.values()) {
      if (!this.isShared(state)) continue;
      for (const [queue, incident] of state.incidents) {
        if (this.ownIncidents.has(incident) || this.sentAsLeader.has(incident)) ownSends.push([state, queue, incident]);
      }
    }
    const taken = this.adopt(restored, (state) => this.isShared(state));
    let kept = 0;
    for (const [state, queue, incident] of ownSends) {
      const own = this.ownIncidents.has(incident);
      if (!own && state.incidents.has(queue)) continue;
      state.incidents.set(queue, incident);
      if (own) continue;
      kept++;
      // Written back, so that the next holder of the lease (should this one die) finds it too.
      this.saved.save(state.service, queue, incident, true);
    }
    const now = this.manager.clock.now();
    for (const state of taken) {
      state.shared = true;
      this.resume(state, now, 'takeover');
    }
    this.resumeTargets();
    this.logger.info(
      { services: taken.size, open_incidents: restored.length, kept_own: kept },
      `Took the alert lease: this replica alerts for the shared services now, ${restored.length} open incident${restored.length === 1 ? '' : 's'} taken over` +
        (kept === 0 ? '' : `, and ${kept} it had alerted itself that the shared notes no longer held`),
    );
  }

  /**
   * Hands each target that re-sends its open alerts (Alertmanager: `Notifier.resume`) what is
   * open now and how to read it again: at the start, once the saved incidents are restored, and
   * at each takeover of the alert lease, once the shared ones are taken up.
   */
  private resumeTargets(): void {
    for (const queue of this.queues) {
      const target = queue.notifier.name;
      this.toTarget(queue, 'resume', (notifier) =>
        notifier.resume?.(
          () => this.openAlerts(queue),
          (error) => {
            this.resent(target, error);
          },
        ),
      );
    }
  }

  /**
   * The incidents open for `queue` that this replica speaks for now (as `tell` decides: its own,
   * and the shared ones only while it holds the lease), each as an alert at the level alerted,
   * dated from the incident's start, with the reason the service last turned bad.
   */
  private openAlerts(queue: TargetQueue): Alert[] {
    const open: Alert[] = [];
    if (this.closed) return open;
    const offset = wallOffset(this.manager.clock);
    let overall: OverallStatus | undefined;
    for (const state of this.states.values()) {
      const incident = state.incidents.get(queue);
      if (!incident || (!this.ownIncidents.has(incident) && this.isShared(state) && this.lead?.sending !== true)) continue;
      overall ??= this.manager.overallStatus();
      const level = levelAt(incident.alertedRank);
      const atRisk = level === 'at_risk';
      const alert: Alert = {
        id: randomUUID(),
        service: state.service,
        status: level,
        previous: atRisk ? 'healthy' : (state.lastChange?.from ?? 'healthy'),
        time: isoAt(offset, incident.since),
        reason:
          (atRisk ? state.atRiskReason || null : state.lastBad?.reason) ??
          (atRisk ? `${state.service} is at risk of missing its heartbeat` : `${state.service} is ${level}`),
        overall_status: overall,
      };
      if (this.lead !== null && this.isShared(state)) alert.shared = true;
      open.push(alert);
    }
    return open;
  }

  /**
   * A target's re-send of its open alerts failed, or went through: said once per run of
   * failures, not every period, since the target tries again every period by itself.
   */
  private resent(target: string, error: Error | null): void {
    if (error === null) {
      if (this.resendsFailing.delete(target)) this.logger.info({ target }, `Re-sending the open alerts to ${target} works again`);
      return;
    }
    if (this.resendsFailing.has(target)) return;
    this.resendsFailing.add(target);
    this.logger.warn(
      { target, reason: error.message },
      `Re-sending the open alerts to ${target} failed: ${error.message}; it tries again every period`,
    );
  }

  /** Calls a notifier's optional hook: one that throws is logged by the error's kind only (its message may name a URL), and stops nothing else. */
  private toTarget(queue: TargetQueue, hook: 'resume' | 'close', call: (notifier: Notifier) => void): void {
    try {
      call(queue.notifier);
    } catch (error) {
      this.logger.error(
        { target: queue.notifier.name, error: error instanceof Error ? error.name : typeof error },
        `The ${hook}() of alert target ${queue.notifier.name} failed`,
      );
    }
  }

  /**
   * Puts `restored` in place of the incidents the dispatcher had for their services, and of
   * every other service that `replaced` picks (emptied); returns the states it changed.
   */
  private adopt(restored: ReadonlyArray<RestoredIncident<TargetQueue>>, replaced: (state: ServiceState) => boolean): Set<ServiceState> {
    const changed = new Set<ServiceState>();
    // Restored ones first: a state holding an incident is never swept by the stateOf() that follows.
    for (const { service, target, incident } of restored) {
      const state = this.stateOf(service);
      if (!changed.has(state)) state.incidents.clear();
      state.incidents.set(target, incident);
      changed.add(state);
    }
    for (const state of this.states.values()) {
      if (changed.has(state) || !replaced(state)) continue;
      state.incidents.clear();
      changed.add(state);
    }
    return changed;
  }

  /**
   * Goes on with a service's incidents, as restored at a restart or taken over with the alert
   * lease, from its status now (which the manager restored too, or which this replica followed
   * while another one alerted): an incident of a healthy service gets its `resolved`; reminders
   * go on where they were. After a takeover, a bad service that was not alerted at its level is
   * alerted now; after a restart, the manager's next change about it does that.
   */
  private resume(state: ServiceState, now: number, after: 'restart' | 'takeover'): void {
    const health = this.manager.service(state.service);
    if (!health) {
      // Nothing runs it yet (an in-process service its app has not started again): its start
      // or its next change tells. One unseen for retention_days is gone, as the manager forgets it.
      const worst = worstAlerted(state);
      state.current = worst === 'at_risk' ? 'healthy' : worst;
      if (latestAlertAt(state) < now - this.manager.config.retention_days * DAY) {
        this.forget(state);
        return;
      }
      state.unconfirmed = true;
      // At risk only: its start changes no status (it was healthy), so it is looked for (onDue).
      if (worst === 'at_risk') state.settleAt = now + TREND_CHECK_MS;
      this.reschedule(state);
      return;
    }
    state.current = health.status;
    // Paused: nothing is said until the pause ends (onPause). Flapping (only a takeover finds a
    // service so): the calm's end says where it stands.
    if (health.paused !== null || state.flapping) return;
    const repeat = this.manager.config.repeat_every;
    if (health.status === 'healthy') {
      // A recovery already counting its on-time pulses (followed before the takeover) goes on.
      // After a restart the gap model starts afresh: an incident only of its risk is over.
      if (after === 'restart' && this.settleAtRisk(state, now, undefined, RISK_RELEARNT)) state.remindAt = null;
      else if (state.recoverAt === null) this.recovering(state, now);
    } else if (after === 'takeover') {
      this.sayUnsaid(state, health.suppressed_by !== null, now);
      state.remindAt =
        state.current === 'critical' && repeat > 0 && state.incidents.size > 0 ? Math.max(latestAlertAt(state) + repeat * 1000, now) : null;
    } else if (health.status === 'critical' && repeat > 0) {
      // Reminders go on where they were, but none before the service had an interval and its
      // grace to show it is back: the manager counts no miss before then either. (The grace is
      // the config's: a heartbeat's own grace option is not known here.)
      const configured = this.manager.config.services[state.service];
      const amnestyMs = health.interval * 1000 + graceMs(configured ? configured.grace : this.manager.config.grace, health.interval);
      state.remindAt = Math.max(latestAlertAt(state) + repeat * 1000, now + amnestyMs);
    }
    this.reschedule(state);
  }

  /**
   * At a takeover, a shared service that is bad now: what the previous lease holder did not
   * say of it (or nobody, while the lease had no holder) is said now, as its change would have
   * been, unless a dependency holds it. If this replica never saw it turn bad (it started
   * later), what the notes say stands, as after a restart.
   */
  private sayUnsaid(state: ServiceState, suppressed: boolean, now: number): void {
    const change = state.lastChange;
    if (change === null) return;
    if (suppressed && !this.alertedAtLeast(state)) {
      state.held = true;
    } else if (alertsOn(state.lastBad?.cause ?? change.cause, this.manager.config.alert_on_miss)) {
      state.held = false;
      this.escalate(state, change.from, state.lastBad?.reason ?? change.reason, now, change.time);
    }
  }

  /**
   * Whether the replicas share `state`'s service: a remote service, with a store they share.
   * A service turns shared at its first remote call, and stays so.
   */
  private isShared(state: ServiceState): boolean {
    if (!state.shared && this.lead !== null && this.manager.isShared(state.service)) state.shared = true;
    return state.shared;
  }

  /** Whether this replica tells `state`'s targets: always of its own services, of a shared one only as the alert lease's holder. */
  private speaksFor(state: ServiceState): boolean {
    return this.lead === null || this.lead.sending || !this.isShared(state);
  }

  /**
   * Saves where `state`'s `incident` with `queue` stands (or that it is `closed`), then queues
   * the alert `make` makes, if this replica speaks for it: for its own services, and for its own
   * incidents of a service shared since, it does, in its manager's store; for a shared one, the
   * lease's holder does, in the shared notes, while the others keep the incident in memory only.
   * The save comes first (write-ahead): a crash in between loses this alert, never sends it twice.
   */
  private tell(state: ServiceState, queue: TargetQueue, incident: Incident, closed: boolean, make?: () => Alert): void {
    const own = this.ownIncidents.has(incident) || !this.isShared(state);
    if (!own && this.lead?.sending !== true) return;
    this.saved.save(state.service, queue, closed ? null : incident, !own);
    if (!closed) (own ? this.ownIncidents : this.sentAsLeader).add(incident);
    if (make) queue.push(make());
  }

  /** Marks the dependents held by a dependency that is down at the start: its recovery alerts them (releaseDependents). */
  private restoreHeld(): void {
    for (const { service, status, reason, cause } of heldAtStart(this.manager)) {
      const state = this.stateOf(service);
      state.current = status;
      if (reason !== null) state.lastBad = { reason, cause };
      // Unless every target heard of it at this level before the restart (restored incidents).
      state.held = this.queues.some((queue) => (state.incidents.get(queue)?.alertedRank ?? -1) < rankOf(status));
    }
  }

  /** Drops `state`'s incidents, in the store too, without a word to the targets. */
  private forget(state: ServiceState): void {
    for (const [queue, incident] of state.incidents) this.tell(state, queue, incident, true);
    state.incidents.clear();
    this.states.delete(state.service);
  }

  /** Sends one alert to every target whose level it reaches (used for flapping). */
  private send(state: ServiceState, status: AlertStatus, previous: ServiceStatus, reason: string, rank: number, time: string): void {
    for (const queue of this.queues) {
      if ((rank >= levelRank(queue.minLevel) || state.incidents.has(queue)) && this.speaksFor(state))
        queue.push(this.alert(state.service, status, previous, reason, time));
    }
  }

  /** A new alert; `time` is the change's own when a change made it, else now. */
  private alert(service: string, status: AlertStatus, previous: Alert['previous'], reason: string, time?: string): Alert {
    const clock = this.manager.clock;
    time ??= isoTimeOf(clock, clock.now());
    const alert: Alert = { id: randomUUID(), service, status, previous, time, reason, overall_status: 'healthy' };
    if (this.lead !== null && this.manager.isShared(service)) alert.shared = true;
    if (status === 'warning' || status === 'degraded' || status === 'critical') {
      const affected = this.dependents.of(service);
      // A copy: a notifier may keep or change what it is given.
      if (affected.length > 0) alert.affected = [...affected];
    }
    // Rating every service once per alert made a mass outage quadratic. The stamp is queued
    // before the alert reaches a queue, and a queue sends from a later microtask, so none
    // leaves unstamped. A promise job, not queueMicrotask(), which fake timers may hold back.
    if (this.unstamped.length === 0) void Promise.resolve().then(this.stamp);
    this.unstamped.push(alert);
    return alert;
  }

  /** Gives every alert made in this turn one reading of the overall status, taken once the turn's changes are in. */
  private readonly stamp = (): void => {
    const overall = this.manager.overallStatus();
    for (const alert of this.unstamped) alert.overall_status = overall;
    this.unstamped.length = 0;
  };

  private reschedule(state: ServiceState): void {
    const next = Math.min(state.recoverAt ?? Infinity, state.stableAt ?? Infinity, state.remindAt ?? Infinity, state.settleAt ?? Infinity);
    if (next === Infinity) this.scheduler.remove(state);
    else this.scheduler.schedule(state, next);
  }

  private stateOf(service: string): ServiceState {
    let state = this.states.get(service);
    if (!state) {
      if (this.states.size >= this.sweepAt) {
        this.sweep();
        this.sweepAt = Math.max(MAX_IDLE_STATES, 2 * this.states.size);
      }
      state = new ServiceAlertState<TargetQueue>(service);
      this.states.set(service, state);
    }
    return state;
  }

  /** Forgets services with nothing pending; their next change starts them afresh. */
  private sweep(): void {
    for (const [service, state] of this.states) if (state.idle && state.heapIndex === -1) this.states.delete(service);
  }
}

function targetName(read: OptionReader, key: string, name: unknown, index: number): string {
  if (name === undefined) return `webhook-${index + 1}`;
  if (typeof name !== 'string' || name.length === 0) read.fail(`${key}.name`, name, 'a non-empty string, e.g. "ops-webhook"');
  return name;
}

function checkNotifier(read: OptionReader, key: string, value: unknown): Notifier {
  const notifier = value as Partial<Notifier> | null;
  if (typeof notifier !== 'object' || notifier === null || typeof notifier.name !== 'string' || typeof notifier.send !== 'function') {
    read.fail(`${key}.notifier`, value, 'an object with a name and a send(alert, { signal }) method');
  }
  return notifier as Notifier;
}

/** The alert counters, shared by every dispatcher on a registry. */
function alertCounters(registry: Registry<RegistryContentType>): { sent: Counter<'target'>; failed: Counter<'target'>; dropped: Counter } {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => {
    const existing = registry.getSingleMetric(name);
    if (existing instanceof Counter) return existing;
    if (existing) {
      throw new Error(
        `AlertDispatcher: the registry already has a metric named ${name} that is not an alert counter; pass AlertDispatcher({ registry }) a registry of its own, or rename the other metric.`,
      );
    }
    return new Counter({ name, help, labelNames, registers: [registry] });
  };
  return {
    sent: counter('heartbeat_alerts_sent_total', 'Alerts delivered, by target.', ['target']),
    failed: counter('heartbeat_alerts_failed_total', 'Alerts given up on after their last attempt, by target.', ['target']),
    dropped: counter('heartbeat_alerts_dropped_total', 'Alerts dropped from a full queue.', []),
  };
}
