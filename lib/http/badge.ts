import type { NextFunction, Request, Response, Router } from 'express';
import { makeBadge } from 'badge-maker';
import type { HeartbeatManager } from '../core/manager';
import type { DetailsGate } from './details';
import { sendError } from './respond';

/** The badge styles served: badge-maker's, less `social` (a GitHub-like button, not a status). */
export const BADGE_STYLES = ['flat', 'flat-square', 'plastic', 'for-the-badge'] as const;
/** What a badge draws: the status word, or a service's uptime over a window. */
export const BADGE_TYPES = ['status', 'uptime'] as const;
/** The uptime windows the history keeps. */
export const BADGE_WINDOWS = ['24h', '7d'] as const;
/** The longest `?label=` taken, in characters: a badge is a line of a README, not a paragraph. */
export const MAX_BADGE_LABEL = 100;
/**
 * How long a browser, a proxy or GitHub's image proxy may reuse a badge, in seconds: short, as
 * shields.io's, so a README shows an outage within a minute or two.
 */
export const BADGE_MAX_AGE_SECONDS = 60;

/** Each status word's colour, as shields.io colours them; `paused` and `offline` are grey: nothing is expected. */
const STATUS_COLORS: Record<string, string> = {
  healthy: 'brightgreen',
  warning: 'yellow',
  degraded: 'orange',
  critical: 'red',
  offline: 'lightgrey',
  paused: 'lightgrey',
};

/** Uptime colours, best first: the first whose percentage the uptime reaches. */
const UPTIME_COLORS: ReadonlyArray<readonly [number, string]> = [
  [99.9, 'brightgreen'],
  [99, 'green'],
  [97, 'yellowgreen'],
  [95, 'yellow'],
  [90, 'orange'],
  [0, 'red'],
];

/**
 * An SVG opened on its own is a document: no script, no fetch, only its own inline style.
 * badge-maker draws no script, so this only guards against what a future version might.
 */
const BADGE_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/**
 * Characters XML 1.0 does not allow even escaped (C0 controls but tab, LF and CR; lone
 * surrogates; U+FFFE and U+FFFF). A service name may hold them; the SVG must still parse.
 */
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

interface BadgeQuery {
  type: (typeof BADGE_TYPES)[number];
  window: (typeof BADGE_WINDOWS)[number];
  style: (typeof BADGE_STYLES)[number];
  label: string | undefined;
}

type QueryProblem = { error: string; parameter: string; value: string; allowed?: readonly string[] };

export interface BadgeRouteSettings {
  manager: HeartbeatManager;
  basePath: string;
  details: DetailsGate;
}

/**
 * `GET {basePath}/badge.svg` (the overall status) and `GET {basePath}/badge/{name}.svg` (one
 * service's status, or with `?type=uptime` its uptime), drawn by badge-maker. A status badge
 * shows nothing the `details` policy hides (status words are public, as in the summaries); an
 * uptime badge is history, refused like `/history` to a caller the policy does not admit.
 */
export function mountBadgeRoutes(router: Router, { manager, basePath, details }: BadgeRouteSettings): void {
  router.get(`${basePath}/badge.svg`, (req: Request, res: Response) => {
    const query = readBadgeQuery(req.query);
    if ('error' in query) {
      const { error, ...named } = query;
      sendError(res, 400, error, named);
      return;
    }
    if (query.type === 'uptime') {
      sendError(res, 400, 'The type parameter is "uptime" on the overall badge; uptime is per service: use badge/{name}.svg?type=uptime.', {
        parameter: 'type',
        value: 'uptime',
        allowed: ['status'],
      });
      return;
    }
    const status = manager.overallStatus();
    sendBadge(res, { label: query.label ?? 'health', message: status, color: STATUS_COLORS[status] as string, style: query.style }, false);
  });

  router.get(`${basePath}/badge/:file`, (req: Request, res: Response, next: NextFunction) => {
    const file = String(req.params.file);
    // Not a badge file: the path is no endpoint, and the unknown-path 404 lists those that are.
    if (!/\.svg$/i.test(file)) {
      next();
      return;
    }
    const name = file.slice(0, -'.svg'.length);
    const query = readBadgeQuery(req.query);
    if ('error' in query) {
      const { error, ...named } = query;
      sendError(res, 400, error, named);
      return;
    }
    const uptime = query.type === 'uptime';
    if (uptime && !details.allows(req)) {
      const { status, error } = details.refusal();
      if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="heartbeat"');
      sendError(res, status, error);
      return;
    }
    const service = manager.service(name);
    if (!service) {
      sendError(res, 404, `No service named ${JSON.stringify(name)} is monitored.`, { service: name });
      return;
    }
    const label = query.label ?? name;
    if (uptime) {
      const ratio = manager.history(name, { limit: 1 })?.uptime[query.window] ?? 1;
      const percent = uptimePercent(ratio);
      // Under when-authorized the token decided this answer: no shared cache may keep it.
      sendBadge(
        res,
        { label, message: percent.text, color: uptimeColor(percent.value), style: query.style },
        details.policy === 'when-authorized',
      );
      return;
    }
    const word = service.paused ? 'paused' : service.status;
    sendBadge(res, { label, message: word, color: STATUS_COLORS[word] as string, style: query.style }, false);
  });

  // A name whose percent-encoding does not decode names no service: the 404 of /service/{name}, with the raw name.
  router.use(`${basePath}/badge`, (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof URIError)) {
      next(error);
      return;
    }
    const raw = (req.url.split('?')[0] ?? '').replace(/^\//, '').replace(/\.svg$/i, '');
    sendError(res, 404, `No service named ${JSON.stringify(raw)} is monitored.`, { service: raw });
  });
}

/** Reads the badge's query: every parameter optional, each given once and one of its values. Others are left alone (cache busters such as `?v=2`). */
function readBadgeQuery(query: Request['query']): BadgeQuery | QueryProblem {
  const type = oneOf('type', query.type, BADGE_TYPES, 'status');
  if (typeof type !== 'string') return type;
  const window = oneOf('window', query.window, BADGE_WINDOWS, '24h');
  if (typeof window !== 'string') return window;
  if (query.window !== undefined && type !== 'uptime') {
    return {
      error: `The window parameter applies to uptime badges only; add type=uptime, e.g. ?type=uptime&window=${window}.`,
      parameter: 'window',
      value: window,
    };
  }
  const style = oneOf('style', query.style, BADGE_STYLES, 'flat');
  if (typeof style !== 'string') return style;
  const label = query.label;
  if (label === undefined) return { type, window, style, label: undefined };
  if (typeof label !== 'string' || label.length > MAX_BADGE_LABEL) {
    return {
      error: `The label parameter is ${JSON.stringify(asText(label))}; expected text of at most ${MAX_BADGE_LABEL} characters, given once.`,
      parameter: 'label',
      value: asText(label),
    };
  }
  return { type, window, style, label };
}

function oneOf<T extends string>(parameter: string, given: unknown, allowed: readonly T[], fallback: T): T | QueryProblem {
  if (given === undefined) return fallback;
  if (typeof given === 'string' && (allowed as readonly string[]).includes(given)) return given as T;
  const value = asText(given);
  return {
    error: `The ${parameter} parameter is ${JSON.stringify(value)}; expected one of ${allowed.join(', ')}, given once.`,
    parameter,
    value,
    allowed,
  };
}

/** A query value as text: itself, or the JSON of a repeated or nested one (`["a","b"]`). */
function asText(given: unknown): string {
  return typeof given === 'string' ? given : JSON.stringify(given);
}

/**
 * An uptime ratio as a badge shows it: at most two decimals, cut rather than rounded, so
 * 99.996% reads 99.99% and only a spotless window reads 100%.
 */
export function uptimePercent(ratio: number): { value: number; text: string } {
  // The epsilon undoes binary fractions: 0.29 * 10,000 is 2899.9999999999995.
  const value = Math.floor(Math.min(1, Math.max(0, ratio)) * 10_000 + 1e-9) / 100;
  return { value, text: `${String(value)}%` };
}

function uptimeColor(percent: number): string {
  return UPTIME_COLORS.find(([floor]) => percent >= floor)?.[1] ?? 'red';
}

function sendBadge(
  res: Response,
  badge: { label: string; message: string; color: string; style: BadgeQuery['style'] },
  private_: boolean,
): void {
  const svg = makeBadge({
    label: badge.label.replace(NOT_XML, '\uFFFD'),
    message: badge.message,
    color: badge.color,
    style: badge.style,
  });
  res.status(200);
  res.set('Content-Type', 'image/svg+xml; charset=utf-8');
  res.set('Cache-Control', `${private_ ? 'private' : 'public'}, max-age=${BADGE_MAX_AGE_SECONDS}`);
  res.set('X-Content-Type-Options', 'nosniff');
  res.set('Content-Security-Policy', BADGE_CSP);
  res.send(svg);
}
