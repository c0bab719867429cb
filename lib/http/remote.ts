import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AUTH_ERRORS, type BearerAuth } from './auth';
import { MAX_CUSTOM_METRICS, METRIC_NAME } from '../core/service-record';
import type { HeartbeatManager } from '../core/manager';
import { remoteIntake } from './remote-intake';
import { isObject, mountRunRoutes, noContent, readRid, RUN_SUCCEEDED, type RemoteContext } from './remote-runs';
import { methodNotAllowed, sendError } from './respond';

/** Largest request body accepted, in bytes. */
export const MAX_REMOTE_BODY = 4096;

/** The remote paths under `basePath`, templated as the endpoint lists and the contract name them. */
export const REMOTE_PATHS = [
  '/service/{name}/pulse',
  '/service/{name}/error',
  '/service/{name}/start',
  '/service/{name}/fail',
  '/service/{name}/exit/{code}',
  '/service/{name}/pause',
  '/service/{name}/resume',
] as const;

/**
 * Heartbeats from other processes over HTTP, like Healthchecks.io ping URLs and Consul TTL
 * updates: `POST {basePath}/service/{name}/pulse` and `/error`, answered 204, and the job runs
 * and pauses of `remote-runs.ts` (`/start`, `/fail`, `/exit/{code}`, `/pause`, `/resume`). Off unless a
 * `remote_token` is configured; every call needs `Authorization: Bearer <token>`. Only
 * configured services answer, unless `auto_register` lets callers add up to `max_services`,
 * which `DELETE {basePath}/service/{name}` removes again. The server's clock is the truth:
 * timestamps in bodies are ignored.
 */
export function mountRemoteRoutes(router: Router, manager: HeartbeatManager, basePath: string, auth: BearerAuth | null): void {
  const paths = REMOTE_PATHS.map((path) => `${basePath}${path.replaceAll(/\{(\w+)\}/g, ':$1')}`);
  const servicePath = `${basePath}/service/:name`;
  if (!auth) {
    const off = (_req: Request, res: Response): void => {
      sendError(res, 404, 'Remote heartbeats are off on this server: set remote_token in its heartbeat config to turn them on.', {
        endpoints: [],
      });
    };
    for (const path of paths) router.post(path, off);
    router.delete(servicePath, off);
    return;
  }
  // One per manager: its registry, and the replay of the other replicas' calls, whatever the number of routers.
  const intake = remoteIntake(manager);

  const authenticate = (req: Request, res: Response, next: NextFunction): void => {
    const result = auth.check(req);
    if (result === 'ok') {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="heartbeat"');
    sendError(res, 401, AUTH_ERRORS[result]);
  };

  const parseJson = express.json({ limit: MAX_REMOTE_BODY, strict: true });

  router.post(paths[0] as string, authenticate, jsonIfBody('A pulse body'), parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const body: unknown = req.body;
    // Express 4 leaves an empty object for no body, Express 5 undefined: both mean a bare pulse.
    if (body !== undefined && !isObject(body)) {
      sendError(res, 400, 'A pulse body must be a JSON object, e.g. { "metrics": { "queue_depth": 12 } }, or empty.', { service: name });
      return;
    }
    const rid = readRid(req, body);
    if ('error' in rid) {
      sendError(res, 400, rid.error, { service: name });
      return;
    }
    const metrics = body?.metrics;
    const problem =
      metrics === undefined
        ? undefined
        : (metricsProblem(metrics) ?? metricsRoomProblem(manager, name, metrics as Record<string, unknown>));
    if (problem) {
      sendError(res, 400, problem, { service: name });
      return;
    }
    const found = intake.resolve(name);
    if ('error' in found) {
      sendError(res, found.status, found.error, { service: name });
      return;
    }
    const values = metrics as Record<string, number> | undefined;
    // A pulse ends the run `rid` (or the unnamed or oldest one); with none open it is a plain pulse. Metrics ride on it, counted once.
    found.heartbeat.signalRun(rid.rid, RUN_SUCCEEDED, values);
    intake.share({ kind: 'pulse', service: name, rid: rid.rid, ...(values === undefined ? {} : { metrics: values }) });
    noContent(res);
  });

  router.post(paths[1] as string, authenticate, requireJson, parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const body: unknown = req.body;
    if (!isObject(body)) {
      sendError(res, 400, 'The body must be a JSON object: { "message": "…", "critical": false }.', { service: name });
      return;
    }
    if (typeof body.message !== 'string' || body.message.length === 0) {
      sendError(res, 400, '"message" must be a non-empty string.', { service: name });
      return;
    }
    if (body.critical !== undefined && typeof body.critical !== 'boolean') {
      sendError(res, 400, '"critical" must be true or false.', { service: name });
      return;
    }
    const found = intake.resolve(name);
    if ('error' in found) {
      sendError(res, found.status, found.error, { service: name });
      return;
    }
    const critical = body.critical === true;
    found.heartbeat.error(body.message, { critical });
    intake.share({ kind: 'error', service: name, message: body.message, critical });
    noContent(res);
  });

  router.delete(servicePath, authenticate, (req: Request, res: Response) => {
    const name = String(req.params.name);
    if (intake.registry.has(name)) {
      intake.registry.remove(name);
      intake.share({ kind: 'remove', service: name });
      noContent(res);
      return;
    }
    if (isConfigured(manager, name)) {
      sendError(
        res,
        409,
        `Service ${JSON.stringify(name)} is listed in the heartbeat config's services, so it cannot be deleted over HTTP; remove it from the config instead.`,
        { service: name },
      );
      return;
    }
    if (manager.service(name)) {
      sendError(
        res,
        409,
        `Service ${JSON.stringify(name)} runs in this server's own code, not registered by a remote call, so it cannot be deleted over HTTP; its code stops it with heartbeat.stop().`,
        { service: name },
      );
      return;
    }
    sendError(res, 404, `No service named ${JSON.stringify(name)} is monitored.`, { service: name });
  });

  const context: RemoteContext = { manager, intake, authenticate, parseJson, jsonIfBody };
  mountRunRoutes(router, context, basePath);

  for (const path of paths) {
    router.all(path, methodNotAllowed('POST'));
    router.use(path, bodyErrors);
  }
}

function isConfigured(manager: HeartbeatManager, name: string): boolean {
  return Object.hasOwn(manager.config.services, name);
}

function hasBody(req: Request): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/** A pulse (or a start, a fail, ...) may come with no body at all (curl -X POST); a body it has must be JSON. `label` names it in the 415. */
function jsonIfBody(label: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!hasBody(req) || req.is('application/json')) {
      next();
      return;
    }
    sendError(res, 415, `${label} must be JSON (Content-Type: application/json), or empty.`);
  };
}

function requireJson(req: Request, res: Response, next: NextFunction): void {
  if (req.is('application/json')) {
    next();
    return;
  }
  sendError(res, 415, 'Send the error as JSON: Content-Type: application/json, body { "message": "…" }.');
}

/** The body parser's failures, as JSON that says what to fix. */
function bodyErrors(error: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction): void {
  switch (error.type) {
    case 'entity.too.large': {
      sendError(res, 413, `The body is over ${MAX_REMOTE_BODY} bytes.`);
      return;
    }
    case 'entity.parse.failed': {
      sendError(res, 400, 'The body is not valid JSON (an object is expected).');
      return;
    }
    case 'encoding.unsupported':
    case 'charset.unsupported': {
      sendError(res, 415, 'Send the body as UTF-8 JSON.');
      return;
    }
    default:
      // Any other failure to read the body (a bad compression, a truncated upload) is the caller's.
      if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
        sendError(res, error.status, 'The body could not be read: send it as plain UTF-8 JSON.');
        return;
      }
      next(error);
  }
}

/** Why `metrics` cannot be recorded, or `undefined` when every entry can: remote callers get a 400, not a silent drop. */
function metricsProblem(metrics: unknown): string | undefined {
  if (!isObject(metrics)) return '"metrics" must be an object of numbers, e.g. { "metrics": { "queue_depth": 12 } }.';
  const names = Object.keys(metrics);
  if (names.length > MAX_CUSTOM_METRICS) return `"metrics" has ${names.length} names; at most ${MAX_CUSTOM_METRICS} are kept per service.`;
  for (const name of names) {
    if (!METRIC_NAME.test(name))
      return `Metric name ${JSON.stringify(name)} is not valid; use letters, digits and _, starting with a letter or _ (e.g. queue_depth).`;
    const value = metrics[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) return `Metric ${JSON.stringify(name)} must be a finite number.`;
  }
  return undefined;
}

/**
 * Why `metrics` would take the service past {@link MAX_CUSTOM_METRICS} names with the ones it
 * already has, or `undefined` when they fit: the pulse is refused whole, so nothing is dropped.
 */
function metricsRoomProblem(manager: HeartbeatManager, name: string, metrics: Record<string, unknown>): string | undefined {
  const kept = manager.service(name)?.metrics;
  if (!kept) return undefined;
  const added = Object.keys(metrics).filter((metric) => !Object.hasOwn(kept, metric));
  const has = Object.keys(kept).length;
  if (has + added.length <= MAX_CUSTOM_METRICS) return undefined;
  const shown = added.slice(0, 5).map((metric) => JSON.stringify(metric));
  if (added.length > 5) shown.push('…');
  return `"metrics" would give this service ${has + added.length} names with the ${has} it has; at most ${MAX_CUSTOM_METRICS} are kept per service. New here: ${shown.join(', ')}.`;
}
