import type { NextFunction, Request, Response } from 'express';

/**
 * Every answer of the router goes through here: JSON with `charset=utf-8`, never cached, and
 * errors as `{ error, ... }` bodies instead of Express's HTML pages and stack traces.
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status);
  res.set('Cache-Control', 'no-store');
  res.json(body);
}

export function sendError(res: Response, status: number, error: string, extra: Record<string, unknown> = {}): void {
  sendJson(res, status, { error, ...extra });
}

/** Answers a known path asked with the wrong method. */
export function methodNotAllowed(allowed: string) {
  return (req: Request, res: Response): void => {
    res.set('Allow', allowed);
    sendError(res, 405, `Method ${req.method} is not allowed here; use ${allowed}.`, { path: safePath(req) });
  };
}

/** Status of an error raised by Express itself (a malformed percent-encoding is a 400 URIError). */
function clientStatus(error: unknown): number | undefined {
  const status =
    (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * The router's error handler: a client error keeps its 4xx status as JSON; anything else is
 * logged and answered with a bare 500, without the stack or paths an Express page would show.
 */
export function jsonErrors(onServerError: (error: unknown, req: Request) => void) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = clientStatus(error);
    if (status !== undefined) {
      sendError(res, status, status === 400 ? 'Bad request: the URL is not valid (malformed percent-encoding?).' : 'Bad request.', {
        path: safePath(req),
      });
      return;
    }
    onServerError(error, req);
    sendError(res, 500, 'Internal error in the health endpoint; see the server log.');
  };
}

/** The raw request path, which may hold percent-encoding that does not decode. */
function safePath(req: Request): string {
  return req.originalUrl.split('?')[0] ?? '';
}
