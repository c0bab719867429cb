import type { OverallStatus, ServiceStatus } from '../core/status';

/**
 * What an alert says: a service entered a bad status, recovered, or is flapping; or, to a target
 * whose `minLevel` is `at_risk`, that a healthy service's pulses drift toward a miss (`trend.at_risk`).
 */
export type AlertStatus = AlertLevel | 'resolved' | 'flapping';

/** The JSON body a webhook receives, and what a notifier is given. */
export interface Alert {
  /** Unique per alert and the same on every retry, so receivers can drop duplicates. */
  id: string;
  /** The service's tag. */
  service: string;
  /**
   * The status entered (a reminder repeats `critical`), `resolved` after an alerted incident, or
   * `flapping`; `at_risk` (only to a target whose `minLevel` is `at_risk`) when a healthy
   * service's `trend.at_risk` turns true: it opens an incident that a later `warning` or worse
   * escalates, and that a `resolved` closes once the risk is gone or the service recovers.
   */
  status: AlertStatus;
  /**
   * The service status before this one. With `at_risk`, the status it is at risk in (`healthy`);
   * with the `resolved` of an incident that never went past `at_risk`, `at_risk`.
   */
  previous: ServiceStatus | 'at_risk';
  /** ISO 8601 UTC time of the change. */
  time: string;
  /** Why, in words, e.g. `missed 3 heartbeats` or `error: disk full`. */
  reason: string;
  /** The whole system's status just after the change: alerts made in one turn of the event loop share one reading, taken as the turn ends. */
  overall_status: OverallStatus;
  /**
   * With `resolved`: seconds from the first alert of the incident to the recovery. For an
   * incident that never went past `at_risk` (`previous` is `at_risk`), the time it was at risk:
   * the service was never down.
   */
  down_seconds?: number;
  /** With a reminder: how many reminders were sent for this incident, this one included. */
  reminder?: number;
  /**
   * With `warning`, `degraded` or `critical` of a service others depend on (`depends_on`): those
   * services, directly or through others, in the config's order. Their own alerts are held while
   * this one is degraded or critical. Absent when nothing depends on it.
   */
  affected?: string[];
  /**
   * `true` when the service is shared by replicas (a store with `replicas`, such as
   * `redisStore()`): the alert speaks for every replica, whichever holds the alert lease.
   * Absent for a replica's own services and without such a store.
   */
  shared?: true;
}

/**
 * The least severe status a target is alerted about, and the level of an alert about a status:
 * `at_risk` (a healthy service whose pulses drift toward a miss: off unless a target asks for it)
 * is below `warning`.
 */
export type AlertLevel = 'at_risk' | Exclude<ServiceStatus, 'healthy'>;

/**
 * Where alerts go: Slack, ntfy, Pushover, email — anything with a name and a `send`.
 * `send` resolves once the alert is delivered. A rejection is retried with backoff unless the
 * error has `retryable: false`. Honour `signal`: it aborts on timeout and on shutdown.
 */
export interface Notifier {
  /** Shown in logs and in the `target` label of the alert metrics. Never put a secret in it. */
  readonly name: string;
  /** Delivers `alert`: resolves once it is delivered, rejects to have it retried, stops when `signal` aborts. */
  send(alert: Alert, options: { signal: AbortSignal }): Promise<void>;
  /**
   * Optional, for a target that keeps its open alerts alive by re-sending them (Alertmanager
   * resolves an alert that is not). The dispatcher calls it once it has restored its open
   * incidents at its start, and again each time this replica takes up the alert lease.
   * `openAlerts()` reads, whenever called, the incidents open now for this target that this
   * replica speaks for (its own services; the shared ones only while it holds the lease), each
   * as an alert whose `status` is the level alerted and whose `time` is the incident's start.
   * `resent` is for the notifier to call after each re-send: `null` once it is delivered, else
   * the error (its message is logged: never put a URL or secret in it).
   */
  resume?(openAlerts: () => readonly Alert[], resent: (error: Error | null) => void): void;
  /** Optional: called once as the dispatcher closes, to stop the notifier's own timers and requests. */
  close?(): void;
}

/** A delivery failure; `retryable: false` stops the retries (a 4xx answer, say). */
export class DeliveryError extends Error {
  /** Always `DeliveryError`, so logs and `error.name` checks tell it from other errors. */
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    /** Whether another attempt may succeed; `false` stops the retries. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}
