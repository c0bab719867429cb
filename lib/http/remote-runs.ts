import type { Request, RequestHandler, Response, Router } from 'express';
import type { Heartbeat, HeartbeatManager } from '../core/manager';
import { ConfigError } from '../util/validate';
import type { RemoteIntake, TakenSignal } from './remote-intake';
import { sendError, sendJson } from './respond';

/** The remote routes' shared pieces, which `mountRemoteRoutes` builds once for every remote path. */
export interface RemoteContext {
  readonly manager: HeartbeatManager;
  /** The manager's intake: resolves the service a call names, and shares each call taken with the other replicas. */
  readonly intake: RemoteIntake;
  /** Answers 401 unless the bearer token is right. */
  readonly authenticate: RequestHandler;
  /** The capped JSON body parser. */
  readonly parseJson: RequestHandler;
  /** Lets a request through when it has no body or a JSON one; `label` names the body in the 415. */
  readonly jsonIfBody: (label: string) => RequestHandler;
}

/** Longest `rid`: a UUID (36) fits, with room for a prefix such as the host name. */
export const MAX_RID_LENGTH = 64;
/**
 * A run id: printable ASCII without spaces, as a remote token is, so that it survives a query
 * string and a shell unquoted, and cannot be an in-process run's id (those start with a NUL).
 */
const RID = new RegExp(`^[!-~]{1,${MAX_RID_LENGTH}}$`);
const RID_RULE = `"rid" must be 1 to ${MAX_RID_LENGTH} printable ASCII characters ("!" to "~", no spaces), e.g. a UUID`;

/** A run that ended well: a pulse that closes it. One object for every pulse: the core only reads it. */
export const RUN_SUCCEEDED = { ok: true, exitCode: null } as const;

/** Exit codes a process can report: 0 to 255, as a shell's `$?` gives them. */
const MAX_EXIT_CODE = 255;

/**
 * The run id of a call, from `?rid=` or the body's `rid` (either, or both if equal): null when
 * none is given, or the error to answer 400 with.
 */
export function readRid(req: Request, body: Record<string, unknown> | undefined): { rid: string | null } | { error: string } {
  const inQuery: unknown = req.query.rid;
  const inBody = body?.rid;
  if (inQuery !== undefined && typeof inQuery !== 'string')
    return {
      error: `${RID_RULE}, given once; the query has it ${Array.isArray(inQuery) ? `${inQuery.length} times` : 'as a nested object'}.`,
    };
  for (const [where, value] of [
    ['query', inQuery],
    ['body', inBody],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'string') return { error: `${RID_RULE}; the ${where} has a ${value === null ? 'null' : typeof value}.` };
    if (!RID.test(value)) return { error: `${RID_RULE}; the one in the ${where} ${ridFault(value)}.` };
  }
  if (inQuery !== undefined && inBody !== undefined && inQuery !== inBody)
    return { error: `"rid" is given in the query and in the body with different values; give it once.` };
  return { rid: (inQuery ?? inBody ?? null) as string | null };
}

/** What is wrong with a run id, without echoing it whole (it may be 4 KB of anything). */
function ridFault(rid: string): string {
  if (rid.length === 0) return 'is empty';
  if (rid.length > MAX_RID_LENGTH) return `has ${rid.length} characters`;
  return `has a space, a control character or one outside ASCII at position ${rid.search(/[^!-~]/) + 1}`;
}

/**
 * The run and pause endpoints beside `/pulse` and `/error`: `POST …/start`, `…/fail`,
 * `…/exit/{code}`, which open and end job runs as `heartbeat.begin()` and its run do in
 * process, and `…/pause` and `…/resume`, which call `manager.pause()` and `resume()`. The
 * checks run in the order of the other remote paths: the token (401), the body (415, 413,
 * 400), then the name (400, 404, 429, 503). `mountRemoteRoutes` adds their wrong-method and
 * body-error answers with those of the other remote paths.
 */
export function mountRunRoutes(router: Router, context: RemoteContext, basePath: string): void {
  const { manager, intake, authenticate, parseJson, jsonIfBody } = context;
  const item = `${basePath}/service/:name`;
  const paths = {
    start: `${item}/start`,
    fail: `${item}/fail`,
    exit: `${item}/exit/:code`,
    pause: `${item}/pause`,
    resume: `${item}/resume`,
  };

  /** Answers 400 and returns undefined unless the body is absent or a JSON object. */
  const objectBody = (req: Request, res: Response, example: string): Record<string, unknown> | null | undefined => {
    const body: unknown = req.body;
    // Express 4 leaves an empty object for no body, Express 5 undefined: both mean none.
    if (body === undefined) return null;
    if (isObject(body)) return body;
    sendError(res, 400, `The body must be a JSON object, e.g. ${example}, or empty.`, { service: String(req.params.name) });
    return undefined;
  };

  /** Resolves the service and signals it, shares the signal with the other replicas, or answers why not. */
  const signal = (
    req: Request,
    res: Response,
    taken: TakenSignal & { kind: 'start' | 'end' },
    act: (heartbeat: Heartbeat) => void,
  ): void => {
    const name = String(req.params.name);
    const found = intake.resolve(name);
    if ('error' in found) {
      sendError(res, found.status, found.error, { service: name });
      return;
    }
    act(found.heartbeat);
    intake.share(taken);
    noContent(res);
  };

  router.post(paths.start, authenticate, jsonIfBody('A start body'), parseJson, (req: Request, res: Response) => {
    const body = objectBody(req, res, '{ "rid": "…" }');
    if (body === undefined) return;
    const rid = readRid(req, body ?? undefined);
    if ('error' in rid) {
      sendError(res, 400, rid.error, { service: String(req.params.name) });
      return;
    }
    signal(req, res, { kind: 'start', service: String(req.params.name), rid: rid.rid }, (heartbeat) => {
      heartbeat.signalRun(rid.rid, null);
    });
  });

  router.post(paths.fail, authenticate, jsonIfBody('A fail body'), parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const body = objectBody(req, res, '{ "rid": "…", "message": "…", "critical": false }');
    if (body === undefined) return;
    const rid = readRid(req, body ?? undefined);
    if ('error' in rid) {
      sendError(res, 400, rid.error, { service: name });
      return;
    }
    const message = body?.message;
    if (message !== undefined && (typeof message !== 'string' || message.length === 0)) {
      sendError(res, 400, '"message" must be a non-empty string, or left out (then it reads "run failed").', { service: name });
      return;
    }
    const critical = body?.critical;
    if (critical !== undefined && typeof critical !== 'boolean') {
      sendError(res, 400, '"critical" must be true or false.', { service: name });
      return;
    }
    const ending = { ok: false, exitCode: null, message: message ?? 'run failed', critical: critical === true };
    signal(req, res, { kind: 'end', service: name, rid: rid.rid, ending }, (heartbeat) => {
      heartbeat.signalRun(rid.rid, ending);
    });
  });

  router.post(paths.exit, authenticate, jsonIfBody('An exit body'), parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const text = String(req.params.code);
    // Digits only: "1e2", " 3" or "0x1" are not what a shell's $? prints.
    const code = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
    if (!(code <= MAX_EXIT_CODE)) {
      const shown = JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}…` : text);
      sendError(res, 400, `The exit code ${shown} is not a whole number from 0 to ${MAX_EXIT_CODE}.`, { service: name });
      return;
    }
    const body = objectBody(req, res, '{ "rid": "…" }');
    if (body === undefined) return;
    const rid = readRid(req, body ?? undefined);
    if ('error' in rid) {
      sendError(res, 400, rid.error, { service: name });
      return;
    }
    // The core words a failure with a code as `exited with code N`.
    const ending = code === 0 ? { ok: true, exitCode: 0 } : { ok: false, exitCode: code };
    signal(req, res, { kind: 'end', service: name, rid: rid.rid, ending }, (heartbeat) => {
      heartbeat.signalRun(rid.rid, ending);
    });
  });

  router.post(paths.pause, authenticate, jsonIfBody('A pause body'), parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const body = objectBody(req, res, '{ "until": "2026-12-01T14:00:00Z", "reason": "database migration" }');
    if (body === undefined) return;
    const until = body?.until;
    const reason = body?.reason;
    // Over JSON a time is a string: the core's other forms (a Date, epoch ms) are for code.
    if (until !== undefined && typeof until !== 'string') {
      sendError(
        res,
        400,
        `"until" must be an ISO 8601 time with a zone, e.g. "2026-12-01T14:00:00Z", or left out (paused until resumed).`,
        {
          service: name,
        },
      );
      return;
    }
    if (reason !== undefined && typeof reason !== 'string') {
      sendError(res, 400, '"reason" must be a string, or left out (then it reads "paused").', { service: name });
      return;
    }
    if (!known(name, res)) return;
    let pause;
    try {
      pause = manager.pause(name, { ...(until === undefined ? {} : { until }), ...(reason === undefined ? {} : { reason }) });
    } catch (error) {
      // The core names the bad value and what it expects (a time in the past, a reason too long).
      if (!(error instanceof ConfigError)) throw error;
      sendError(res, 400, error.message, { service: name });
      return;
    }
    // Checked by the core above: an ISO time with a zone, in the future; the others pause until the same instant.
    intake.share({ kind: 'pause', service: name, until: until === undefined ? null : Date.parse(until), reason: reason ?? null });
    sendJson(res, 200, pause);
  });

  router.post(paths.resume, authenticate, jsonIfBody('A resume body'), parseJson, (req: Request, res: Response) => {
    const name = String(req.params.name);
    if (objectBody(req, res, '{}') === undefined) return;
    if (!known(name, res)) return;
    const resumed = manager.resume(name);
    intake.share({ kind: 'resume', service: name });
    sendJson(res, 200, { resumed });
  });

  /**
   * Whether `name` is a monitored service; answers 404 (or the name's 400, 503) otherwise. A
   * pause never registers a service: pausing a name nothing sends to would hide a typo.
   */
  function known(name: string, res: Response): boolean {
    const problem = intake.nameProblem(name);
    if (problem) {
      sendError(res, problem.status, problem.error, { service: name });
      return false;
    }
    if (manager.service(name)) return true;
    sendError(res, 404, `No service named ${JSON.stringify(name)} is monitored; pause and resume do not register one.`, { service: name });
    return false;
  }
}

/** The answer to a signal taken: 204, never cached. */
export function noContent(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.status(204).end();
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
