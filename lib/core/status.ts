/**
 * The status words and the rules that map missed beats and reported errors to them.
 * Pure functions only: the manager feeds them timestamps, so every read is current.
 */

/** The status of one service, in the seed's words. */
export type ServiceStatus = 'healthy' | 'warning' | 'degraded' | 'critical';

/** The status of the whole system: a service status, or `offline` when heartbeats are disabled. */
export type OverallStatus = ServiceStatus | 'offline';

/** Status as a rank, worst last. The same numbers are exported as the Prometheus gauge values. */
export const HEALTHY = 0;
export const WARNING = 1;
export const DEGRADED = 2;
export const CRITICAL = 3;
export const OFFLINE = 4;
export type StatusRank = typeof HEALTHY | typeof WARNING | typeof DEGRADED | typeof CRITICAL;

export const STATUS_WORDS: readonly OverallStatus[] = ['healthy', 'warning', 'degraded', 'critical', 'offline'];

/** Severity of the errors reported since the last pulse. */
export const NO_ERROR = 0;
export const ERROR_REPORTED = 1;
export const CRITICAL_ERROR = 2;
export type ErrorLevel = typeof NO_ERROR | typeof ERROR_REPORTED | typeof CRITICAL_ERROR;

/** The thresholds that turn a number of missed beats into a status. */
export interface MissThresholds {
  /** Missed beats from which a service is degraded (the seed's `timeout_multiplier`). */
  readonly degradedAfter: number;
  /** Missed beats from which a service is critical. */
  readonly criticalAfter: number;
}

/**
 * How many beats were missed between `lastSignAt` and `now`: beat k counts as missed once
 * `now` is strictly past its deadline, `nextMissDeadline(lastSignAt, k - 1, …)`.
 *
 * Counted against those same deadlines, not by dividing the elapsed time: in floating point
 * a division can land one beat off the deadline the scheduler waits for, and a service woken
 * at its deadline that still counted no new miss would be queued again at that deadline, due
 * again in the same timer turn, forever. With this count, `nextMissDeadline(lastSignAt,
 * missedBeats(…), …)` is never before `now`.
 */
export function missedBeats(lastSignAt: number, now: number, intervalMs: number, graceMs: number): number {
  // Most services, most of the time: the first beat's deadline is still ahead.
  if (now <= nextMissDeadline(lastSignAt, 0, intervalMs, graceMs)) return 0;
  let missed = Math.max(0, Math.ceil((now - lastSignAt - graceMs) / intervalMs) - 1);
  // The estimate is exact or one off; these settle it on the deadlines themselves.
  while (nextMissDeadline(lastSignAt, missed, intervalMs, graceMs) < now) missed++;
  while (missed > 0 && nextMissDeadline(lastSignAt, missed - 1, intervalMs, graceMs) >= now) missed--;
  return missed;
}

/** When the (missed + 1)-th beat will count as missed (once `now` is strictly past it), on the same clock as `lastSignAt`. */
export function nextMissDeadline(lastSignAt: number, missed: number, intervalMs: number, graceMs: number): number {
  return lastSignAt + (missed + 1) * intervalMs + graceMs;
}

export function rankFromMisses(missed: number, thresholds: MissThresholds): StatusRank {
  if (missed >= thresholds.criticalAfter) return CRITICAL;
  if (missed >= thresholds.degradedAfter) return DEGRADED;
  if (missed >= 1) return WARNING;
  return HEALTHY;
}

export function rankFromError(level: ErrorLevel): StatusRank {
  if (level === CRITICAL_ERROR) return CRITICAL;
  if (level === ERROR_REPORTED) return WARNING;
  return HEALTHY;
}

/** The worse of the miss status and the error status wins. */
export function serviceRank(missed: number, errorLevel: ErrorLevel, thresholds: MissThresholds): StatusRank {
  const byMisses = rankFromMisses(missed, thresholds);
  const byError = rankFromError(errorLevel);
  return byMisses > byError ? byMisses : byError;
}

/**
 * The contribution of one service to the overall status: a service marked `critical: false`
 * raises the overall status at most to degraded.
 */
export function overallContribution(rank: StatusRank, critical: boolean): StatusRank {
  return !critical && rank === CRITICAL ? DEGRADED : rank;
}

export function statusWord(rank: StatusRank): ServiceStatus {
  return STATUS_WORDS[rank] as ServiceStatus;
}
