import type { BearerAuth, Credentials } from './auth';
import type { HealthStatus } from '../core/manager';
import type { ServiceHealth } from '../core/service-record';

/** Who sees details (error messages, timings, counters), as Spring Actuator's `show-details`. */
export type DetailsPolicy = 'always' | 'when-authorized' | 'never';
export const DETAILS_POLICIES: readonly DetailsPolicy[] = ['always', 'when-authorized', 'never'];

/**
 * Decides, per request, whether details may be shown.
 *
 * @inline
 */
export class DetailsGate {
  constructor(
    /** The `details` option this gate enforces. */
    readonly policy: DetailsPolicy,
    private readonly auth: BearerAuth | null,
  ) {}

  /** Whether the caller of `req` may see details: always, never, or with the `remote_token` as its bearer token. */
  allows(req: Credentials): boolean {
    if (this.policy === 'always') return true;
    if (this.policy === 'never' || !this.auth) return false;
    return this.auth.check(req) === 'ok';
  }

  /** Why a details-only endpoint refused, for its 401/403 body. */
  refusal(): { status: number; error: string } {
    return this.policy === 'never'
      ? { status: 403, error: 'Details are turned off on this server (details: "never").' }
      : { status: 401, error: 'Details need authentication: send Authorization: Bearer <token>.' };
  }
}

/** The status body without details: the overall status and each service's status word. */
export function statusSummary(body: HealthStatus): { services: Record<string, { status: string }>; overall_status: string } {
  const services = Object.create(null) as Record<string, { status: string }>;
  for (const tag of Object.keys(body.services)) services[tag] = { status: (body.services[tag] as { status: string }).status };
  return { services, overall_status: body.overall_status };
}

/** A service as a caller the `details` policy does not admit sees it. */
export interface ServiceSummary {
  service: string;
  status: string;
  /** As public as `heartbeat_service_paused`; the reason and the times are details. */
  paused: boolean;
  /** Its status page section: config, not a detail. */
  group: string | null;
  /** Its `trend.at_risk`, as public as `heartbeat_at_risk`; the reason and the figures are details. */
  at_risk: boolean;
}

/** A service body without details: its status word and the flags as public as it. */
export function serviceSummary(body: ServiceHealth): ServiceSummary {
  return { service: body.service, status: body.status, paused: body.paused !== null, group: body.group, at_risk: body.trend.at_risk };
}
