import type { NextFunction, Request, Response } from 'express';
import type { Heartbeat } from '../core/manager';
import { describeValue } from '../util/validate';

/** Express middleware that pulses a heartbeat on every request, with that heartbeat attached. */
export type PulseMiddleware = ((req: Request, res: Response, next: NextFunction) => void) & {
  /** The heartbeat every request pulses. */
  readonly heartbeat: Heartbeat;
};

/**
 * The Flask bridge's `before_request` pattern: every request through this middleware pulses
 * `heartbeat`, then goes on. Nothing else happens on the request path.
 *
 * ```ts
 * app.use(pulseMiddleware(new Heartbeat({ tag: 'flask_bridge', interval: 15 }).start()));
 * ```
 */
export function pulseMiddleware(heartbeat: Heartbeat): PulseMiddleware {
  const candidate: unknown = heartbeat;
  if (typeof candidate !== 'object' || candidate === null || typeof (candidate as Partial<Heartbeat>).pulse !== 'function') {
    throw new TypeError(
      `pulseMiddleware(heartbeat): expected a Heartbeat, got ${describeValue(candidate)}. Create one with new Heartbeat({ tag, interval }).`,
    );
  }
  const middleware = (_req: Request, _res: Response, next: NextFunction): void => {
    heartbeat.pulse();
    next();
  };
  return Object.assign(middleware, { heartbeat });
}
