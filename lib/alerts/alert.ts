import type { OverallStatus, ServiceStatus } from '../status';

/** What an alert says: a service entered a bad status, recovered, or is flapping. */
export type AlertStatus = Exclude<ServiceStatus, 'healthy'> | 'resolved' | 'flapping';

/** The JSON body a webhook receives, and what a notifier is given. */
export interface Alert {
  /** Unique per alert and the same on every retry, so receivers can drop duplicates. */
  id: string;
  service: string;
  status: AlertStatus;
  /** The service status before this one. */
  previous: ServiceStatus;
  /** ISO 8601 UTC time of the change. */
  time: string;
  reason: string;
  overall_status: OverallStatus;
  /** With `resolved`: seconds from the first alert of the incident to the recovery. */
  down_seconds?: number;
  /** With a reminder: how many reminders were sent for this incident, this one included. */
  reminder?: number;
}

/** The least severe status a target is alerted about. */
export type AlertLevel = Exclude<ServiceStatus, 'healthy'>;

/**
 * Where alerts go: Slack, ntfy, Pushover, email — anything with a name and a `send`.
 * `send` resolves once the alert is delivered. A rejection is retried with backoff unless the
 * error has `retryable: false`. Honour `signal`: it aborts on timeout and on shutdown.
 */
export interface Notifier {
  /** Shown in logs and in the `target` label of the alert metrics. Never put a secret in it. */
  readonly name: string;
  send(alert: Alert, options: { signal: AbortSignal }): Promise<void>;
}

/** A delivery failure; `retryable: false` stops the retries (a 4xx answer, say). */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}
