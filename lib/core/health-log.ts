import pino, { type Logger } from 'pino';
import type { PinoLevel } from './config';
import type { ServiceStatus } from './status';

/** What caused a status change, for the log line, the event and the alert. */
export type TransitionCause =
  | { readonly kind: 'missed'; readonly missed: number }
  | { readonly kind: 'error'; readonly message: string; readonly critical: boolean }
  | { readonly kind: 'runtime'; readonly message: string }
  | { readonly kind: 'recovered'; readonly via: 'pulse' | 'start' }
  | { readonly kind: 'recovered'; readonly via: 'pause'; readonly reason: string };

/**
 * Writes the seed's health log lines, and only on status changes (never per pulse), with
 * `service`, `status`, `previous` and `missed` as structured fields beside the message.
 */
export class HealthLog {
  readonly logger: Logger;

  constructor(
    logger: Logger | undefined,
    level: PinoLevel,
    private readonly timeoutMultiplier: number,
  ) {
    // A caller's logger keeps its name and destination; the child only takes the health log's level.
    this.logger = logger ? logger.child({}, { level }) : pino({ name: 'heartbeat', level });
  }

  transition(service: string, previous: ServiceStatus, status: ServiceStatus, cause: TransitionCause, missed: number): void {
    const fields = { service, status, previous, missed };
    switch (cause.kind) {
      case 'recovered':
        this.logger.info(fields, `Service ${service} heartbeat: ${status}`);
        return;
      case 'error':
        if (cause.critical)
          this.logger.error({ ...fields, error: cause.message }, `Service ${service} reported a critical error: ${cause.message}`);
        else this.logger.warn({ ...fields, error: cause.message }, `Service ${service} reported an error: ${cause.message}`);
        return;
      case 'runtime':
        if (status === 'critical') this.logger.error(fields, `Service ${service} job ${cause.message} - marking as critical`);
        else this.logger.warn(fields, `Service ${service} job ${cause.message}`);
        return;
      case 'missed':
        if (status === 'critical') this.logger.error(fields, `Service ${service} is unresponsive - marking as critical`);
        else this.missed(service, status, previous, missed);
        return;
    }
  }

  /** A further missed beat that did not change the status (logged up to the multiplier). */
  missed(service: string, status: ServiceStatus, previous: ServiceStatus, missed: number): void {
    this.logger.warn(
      { service, status, previous, missed },
      `Service ${service} missed heartbeat (attempt ${missed}/${this.timeoutMultiplier})`,
    );
  }
}
