// What an AlertDispatcher remembers of each service between its status changes: the open
// incidents per target, the recovery, reminder and calm it waits for, and why it holds its tongue.
import type { StatusChange } from '../core/manager';
import type { Scheduled } from '../core/scheduler';
import { STATUS_WORDS, type ServiceStatus } from '../core/status';
import type { AlertLevel } from './alert';

/** An incident as the dispatcher keeps it: one service's alerts to one target, from the first to the `resolved`. */
export interface Incident {
  /** Monotonic ms of the first alert. */
  since: number;
  /** Rank (in `STATUS_WORDS`; `at_risk` has healthy's, see `levelAt`) of the most severe level alerted. */
  alertedRank: number;
  reminders: number;
  /** Monotonic ms of the latest alert about it: after a restart, the next reminder counts from here. */
  lastAlertAt: number;
}

/** What the dispatcher remembers of one service; also its entry in the dispatcher's timer heap. */
export class ServiceAlertState<Target> implements Scheduled {
  deadline = 0;
  heapIndex = -1;
  current: ServiceStatus = 'healthy';
  lastChange: StatusChange | null = null;
  /** Monotonic times of recent status changes, for flapping. */
  changes: number[] = [];
  flapping = false;
  flapWorst = 0;
  incidents = new Map<Target, Incident>();
  recoverAt: number | null = null;
  /** The reason the `resolved` due at `recoverAt` gives, if not the latest change's (a pause's end). */
  recoveryReason: string | null = null;
  /** Pulses the service had when it turned healthy: recover_after counts from there. */
  recoverFromPulses = 0;
  /** Pulses needed since `recoverFromPulses` before the recovery is announced. */
  recoverNeeds = 0;
  remindAt: number | null = null;
  stableAt: number | null = null;
  /**
   * Its incidents were restored for a service nothing ran at the restart: its status is
   * unknown until its first change (see `onStatus`).
   */
  unconfirmed = false;
  /** Unconfirmed with incidents only of its risk: when to look whether it runs again (see the dispatcher's `settleUnconfirmed`). */
  settleAt: number | null = null;
  /** Its bad status went unalerted because a dependency was down (`suppressed_by`): that dependency's recovery alerts it. */
  held = false;
  /** Why it last turned bad, and by what: the alert sent after a pause or a dependency's recovery repeats it. */
  lastBad: { reason: string; cause: StatusChange['cause'] } | null = null;
  /** Shared by the replicas (see the dispatcher's `isShared`): once shared, it stays so. */
  shared = false;
  /** Its `trend.at_risk` as the latest `trend` event said (followed only with a target of `minLevel` `at_risk`). */
  atRisk = false;
  /** The reason of the `trend` event that turned it at risk: its `at_risk` alert's, and its re-sends'. */
  atRiskReason = '';

  constructor(readonly service: string) {}

  get idle(): boolean {
    return !this.flapping && !this.held && !this.atRisk && this.incidents.size === 0 && this.recoverAt === null;
  }
}

export const rankOf = (status: ServiceStatus): number => STATUS_WORDS.indexOf(status);

/**
 * The rank an incident alerted at `at_risk` has: healthy's, below warning's. No incident is ever
 * alerted at `healthy`, so the rank says `at_risk` wherever it is an incident's.
 */
export const AT_RISK_RANK = rankOf('healthy');

/** An alert level's rank, on the scale of {@link rankOf}. */
export const levelRank = (level: AlertLevel): number => (level === 'at_risk' ? AT_RISK_RANK : rankOf(level));

/** The alert level of an incident's `alertedRank`. */
export const levelAt = (rank: number): AlertLevel => (rank === AT_RISK_RANK ? 'at_risk' : (STATUS_WORDS[rank] as AlertLevel));

/** Monotonic ms of the latest alert about any of `state`'s open incidents. */
export function latestAlertAt(state: ServiceAlertState<unknown>): number {
  let latest = -Infinity;
  for (const incident of state.incidents.values()) latest = Math.max(latest, incident.lastAlertAt);
  return latest;
}

/** The most severe level `state`'s open incidents were alerted at; `warning` when none is open. */
export function worstAlerted(state: ServiceAlertState<unknown>): AlertLevel {
  if (state.incidents.size === 0) return 'warning';
  let rank = AT_RISK_RANK;
  for (const incident of state.incidents.values()) rank = Math.max(rank, incident.alertedRank);
  return levelAt(rank);
}
