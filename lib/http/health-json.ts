import type { NextFunction, Request, Response } from 'express';
import type { HeartbeatManager } from '../core/manager';
import type { ServiceStatusEntry } from '../core/service-record';
import type { DetailsGate } from './details';
import { sendError } from './respond';

/** The media type of draft-inadarei-api-health-check ("Health Check Response Format for HTTP APIs"). */
export const HEALTH_JSON_TYPE = 'application/health+json';
/** What the base path answers in, best first: a client that takes only plain JSON gets the same body as `application/json`. */
const ANSWER_TYPES = [HEALTH_JSON_TYPE, 'application/json'];

/** The draft's three status values. */
export type HealthCheckStatus = 'pass' | 'warn' | 'fail';

/** One check of the health+json answer: one service's heartbeat, as the draft's "component details" object. */
export interface HeartbeatCheck {
  /** The service's tag, exactly. */
  componentId: string;
  /** `component`: a part of this application (the draft's other values are `datastore` and `system`). */
  componentType: 'component';
  /** The service's own status: `pass` (healthy), `warn` (warning, degraded) or `fail` (critical). */
  status: HealthCheckStatus;
  /** Seconds since the last heartbeat, or `null` before any. Details only. */
  observedValue?: number | null;
  /** `s`: `observedValue` is in seconds. Details only. */
  observedUnit?: 's';
  /** ISO 8601 time `observedValue` was read (the answer's time, as the draft defines it): the last heartbeat was `observedValue` seconds before. Details only. */
  time?: string;
  /** Why it is not `pass`: the error reported since the last heartbeat, or the missed beats. Details only, and never on `pass`. */
  output?: string;
  /** Present, and `true`, while the service is paused: it is then left out of the top-level `status`. */
  paused?: true;
  /** Where to read more of the service. */
  links: {
    /** The service's own endpoint, `{basePath}/service/{name}`, under the prefix where the app mounted the router. */
    about: string;
  };
}

/** The body of `GET {basePath}` in draft-inadarei-api-health-check-06's format. */
export interface HealthCheckResponse {
  /** `pass` (healthy), `warn` (warning or degraded) or `fail` (critical, or offline): `overall_status` in the draft's words. */
  status: HealthCheckStatus;
  /** What this answer describes. */
  description: string;
  /** Set only while heartbeats are disabled (`offline`), saying so. */
  output?: string;
  /** One entry per service, keyed `{service}:heartbeat` (a `:` or `%` in the name percent-encoded, since the draft splits keys at `:`). */
  checks: Record<string, [HeartbeatCheck]>;
  /** `self` (this answer, whose HTTP status follows `status`), `status` (the JSON status) and `about` (the status page, when served). */
  links: Record<string, string>;
}

export interface HealthJsonSettings {
  manager: HeartbeatManager;
  basePath: string;
  details: DetailsGate;
  /** The status page's path, or null when it is not served. */
  uiPath: string | null;
}

const CHECK_STATUS: Record<string, HealthCheckStatus> = {
  healthy: 'pass',
  warning: 'warn',
  degraded: 'warn',
  critical: 'fail',
  offline: 'fail',
};

/**
 * `GET {basePath}`: the health of every service in the IETF draft's health+json format, 200
 * for `pass` and `warn` and 503 for `fail`, so tools that read the draft need no adapter.
 * Callers the `details` policy does not admit get status words only, as in the summaries.
 */
export function healthJsonHandler({ manager, basePath, details, uiPath }: HealthJsonSettings) {
  return exactPath((req: Request, res: Response): void => {
    res.vary('Accept');
    const type = req.accepts(ANSWER_TYPES);
    if (type === false) {
      sendError(res, 406, `This endpoint answers ${ANSWER_TYPES.join(' or ')}, and the Accept header takes neither.`, {
        acceptable: ANSWER_TYPES,
      });
      return;
    }
    // The links name the paths a client calls, under the prefix where the app mounted the router.
    const base = `${req.baseUrl}${basePath}`;
    const body = healthCheckResponse(manager, details.allows(req), base, uiPath === null ? null : `${req.baseUrl}${uiPath}`);
    res.status(body.status === 'fail' ? 503 : 200);
    res.set('Cache-Control', 'no-store');
    // res.send keeps a set content type and adds the charset, on Express 4 and 5 alike.
    res.set('Content-Type', `${type}; charset=utf-8`);
    res.send(JSON.stringify(body));
  });
}

/**
 * A handler of the base path itself, which Express would also match with a trailing slash:
 * `{basePath}/` stays the unknown-path answer, whose list of endpoints reads as the API's index.
 */
export function exactPath(handler: (req: Request, res: Response) => void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.path.endsWith('/')) next();
    else handler(req, res);
  };
}

function healthCheckResponse(manager: HeartbeatManager, withDetails: boolean, base: string, page: string | null): HealthCheckResponse {
  const view = manager.statusView(); // rewritten by the next call: read through before anything else asks
  const checks = Object.create(null) as Record<string, [HeartbeatCheck]>;
  const now = manager.clock.wallNow();
  for (const tag of Object.keys(view.services)) {
    const entry = view.services[tag] as ServiceStatusEntry;
    checks[`${componentName(tag)}:heartbeat`] = [heartbeatCheck(manager, tag, entry, withDetails, now, base)];
  }
  const links: Record<string, string> = { self: base, status: `${base}/status` };
  if (page !== null) links.about = page;
  return {
    status: CHECK_STATUS[view.overall_status] as HealthCheckStatus,
    description: 'Heartbeats of the services this application watches (express-heartbeat).',
    ...(view.overall_status === 'offline' ? { output: 'Heartbeat monitoring is disabled (enabled: false in the heartbeat config).' } : {}),
    checks,
    links,
  };
}

function heartbeatCheck(
  manager: HeartbeatManager,
  tag: string,
  entry: ServiceStatusEntry,
  withDetails: boolean,
  now: number,
  base: string,
): HeartbeatCheck {
  const status = CHECK_STATUS[entry.status] as HealthCheckStatus;
  const check: HeartbeatCheck = {
    componentId: tag,
    componentType: 'component',
    status,
    links: { about: `${base}/service/${encodeURIComponent(tag)}` },
  };
  if (manager.isPaused(tag)) check.paused = true;
  if (!withDetails) return check;
  const last = entry.last_heartbeat === null ? null : Date.parse(entry.last_heartbeat);
  check.observedValue = last === null ? null : Math.round(Math.max(0, now - last)) / 1000;
  check.observedUnit = 's';
  // The draft's `time` is when the observedValue was read: now, since the age is computed per answer.
  check.time = new Date(now).toISOString();
  if (status !== 'pass') check.output = failureOutput(manager, tag, entry, check.observedValue);
  return check;
}

/** Why a service is not passing: an error reported since its last heartbeat, else the beats it missed. */
function failureOutput(manager: HeartbeatManager, tag: string, entry: ServiceStatusEntry, age: number | null): string {
  const lastError = manager.service(tag)?.last_error ?? null;
  if (lastError && (entry.last_heartbeat === null || Date.parse(lastError.time) >= Date.parse(entry.last_heartbeat)))
    return lastError.message;
  const since = age === null ? 'no heartbeat yet' : `no heartbeat for ${String(age)} s`;
  return `${since} (interval ${String(entry.interval)} s, ${String(entry.consecutive_failures)} missed)`;
}

/** The draft splits a check's key at `:`: a name's own `:` (and `%`, to keep the encoding reversible) are percent-encoded. */
function componentName(tag: string): string {
  return tag.replace(/%/g, '%25').replace(/:/g, '%3A');
}
