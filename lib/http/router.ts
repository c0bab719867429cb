import { Router, type NextFunction, type Request, type Response } from 'express';
import { register as globalRegister, type Registry, type RegistryContentType } from 'prom-client';
import { getDefaultManager } from '../core/manager';
import type { HeartbeatManager } from '../core/manager';
import { readMetricPrefix, registerMetrics } from '../metrics/prometheus';
import { renderMetrics } from '../metrics/render';
import { BearerAuth } from './auth';
import { mountBadgeRoutes } from './badge';
import { DrainSignal } from './drain';
import { exactPath, healthJsonHandler } from './health-json';
import { DETAILS_POLICIES, DetailsGate, type DetailsPolicy } from './details';
import { statusPage } from '../page/status-page';
import { REMOTE_PATHS, mountRemoteRoutes } from './remote';
import { jsonErrors, methodNotAllowed, sendError } from './respond';
import { mountStatusRoutes } from './status-routes';
import { sseHandler } from './sse-transport';
import { StreamHub } from './stream';
import { readStreamOptions, readWebSocketOptions, type StreamOptions, type WebSocketOptions } from './stream-options';
import { WebSocketTransport, webSocketOverHttp, type AttachWebSocketOptions, type UpgradableServer } from './ws-transport';
import { OptionReader } from '../util/validate';

/** What `healthRouter()` takes. Every key is optional. */
export interface HealthRouterOptions {
  /** The manager whose services are served. Defaults to the default manager. */
  readonly manager?: HeartbeatManager;
  /** Where the health endpoints live. Defaults to `/api/health`. */
  readonly basePath?: string;
  /** Serve `GET /metrics` from the registry. The gauges are registered either way. Defaults to `true`. */
  readonly metrics?: boolean;
  /** Path of the metrics endpoint. Defaults to `/metrics`. */
  readonly metricsPath?: string;
  /** The prom-client registry for the gauges and the metrics endpoint. Defaults to prom-client's global `register`. */
  readonly registry?: Registry<RegistryContentType>;
  /**
   * Prefix of every heartbeat metric name, like `registerMetrics()`'s `prefix`: another one
   * (e.g. `app_heartbeat_`) when the registry already has a metric of that name. Defaults to `heartbeat_`.
   */
  readonly metricsPrefix?: string;
  /** HTTP status of `GET {basePath}/status` while the overall status is critical. Defaults to `503`. */
  readonly criticalStatusCode?: number;
  /** Serve the event stream at `{basePath}/stream`; an object sets its limits. Defaults to `true`. */
  readonly stream?: boolean | StreamOptions;
  /**
   * Serve the same events over a WebSocket at `{basePath}/ws`, once `attachWebSocket(server)`
   * is called; an object sets its bearer `token`. Defaults to `true`, or `false` when `stream` is `false`.
   */
  readonly webSocket?: boolean | WebSocketOptions;
  /** Serve the status page (it needs the stream). Defaults to `true`, or `false` when `stream` is `false`. */
  readonly ui?: boolean;
  /** Path of the status page. Defaults to `{basePath}/ui`. */
  readonly uiPath?: string;
  /**
   * Who sees details (error messages, counters, history): `always`, `when-authorized` (a
   * bearer token equal to the config's `remote_token`), or `never`; others get status words
   * only. Defaults to `always`, which keeps the seed's clients working.
   */
  readonly details?: DetailsPolicy;
}

/**
 * The health API as one Express middleware, with the manager it serves attached. A request
 * outside its paths (`basePath`, `metricsPath`, `uiPath`) passes on after one prefix check.
 */
export type HealthRouter = ((req: Request, res: Response, next: NextFunction) => void) & {
  /** The manager whose services this router serves. */
  readonly manager: HeartbeatManager;
  /**
   * Starts the shutdown: from now on `GET {basePath}/ready` answers 503 `{"status":"draining"}`,
   * so load balancers stop sending traffic while the server still answers; call it on SIGTERM,
   * wait a few probe periods, then close the server. `/live` goes on answering 200. Closing the
   * manager (`manager.close()`) drains as well. Calling it again changes nothing.
   */
  drain(): void;
  /**
   * Serves the event stream over WebSockets at `{basePath}/ws` on `server` (the one
   * `app.listen()` returns, or an `http`/`https` server of the app): it listens to the
   * server's `upgrade` event, answers its own path and leaves other paths to other listeners.
   * Mounted under a prefix (`app.use('/ops', health)`), give the full path:
   * `{ path: '/ops/api/health/ws' }`. Calling it again for the same server and path changes
   * nothing; for another path it throws. `manager.close()` closes every socket and removes
   * the listener. Throws when the router's `webSocket` option is `false` or the manager is closed.
   */
  attachWebSocket(server: UpgradableServer, options?: AttachWebSocketOptions): void;
};

const ROUTER_KEYS = [
  'manager',
  'basePath',
  'metrics',
  'metricsPath',
  'registry',
  'metricsPrefix',
  'criticalStatusCode',
  'stream',
  'webSocket',
  'ui',
  'uiPath',
  'details',
] as const;

/**
 * The drop-in health API: `app.use(healthRouter())`.
 *
 * - `GET /api/health/status`: every service and the overall status (503 while critical)
 * - `GET /api/health/service/{name}`: one service, or 404
 * - `GET /api/health/service/{name}/history` and `/export?format=json|csv`: the past
 * - `GET /api/health/stream` and `/ui`: live events and the status page
 * - `GET /api/health/ws`: the same events over a WebSocket, once `attachWebSocket(server)` is called
 * - `GET /api/health/live` and `/ready`: probes for load balancers and Kubernetes (`/ready` 503 once `drain()` is called)
 * - `GET /api/health`: every service in the IETF draft's `application/health+json` format
 * - `GET /api/health/badge.svg` and `/badge/{name}.svg`: SVG status and uptime badges for READMEs
 * - `POST /api/health/service/{name}/pulse` and `/error`: remote heartbeats (with `remote_token`)
 * - `POST /api/health/service/{name}/start`, `/fail`, `/exit/{code}`: remote job runs (with `remote_token`)
 * - `POST /api/health/service/{name}/pause` and `/resume`: pauses (with `remote_token`)
 * - `DELETE /api/health/service/{name}`: removes a service a remote heartbeat registered
 * - `GET /metrics`: the prom-client registry, including the heartbeat gauges
 */
export function healthRouter(options: HealthRouterOptions = {}): HealthRouter {
  const read = new OptionReader('Invalid healthRouter options');
  const given = read.object('', options, ROUTER_KEYS);
  const manager = (given.manager as HeartbeatManager | undefined) ?? getDefaultManager();
  if (typeof manager.status !== 'function') read.fail('manager', given.manager, 'a HeartbeatManager');
  const basePath = given.basePath === undefined ? '/api/health' : read.plainPath('basePath', given.basePath);
  const metricsPath = given.metricsPath === undefined ? '/metrics' : read.plainPath('metricsPath', given.metricsPath);
  const serveMetrics = given.metrics === undefined ? true : read.boolean('metrics', given.metrics);
  const criticalStatusCode =
    given.criticalStatusCode === undefined ? 503 : httpStatus(read, 'criticalStatusCode', given.criticalStatusCode);
  const registry = (given.registry as Registry<RegistryContentType> | undefined) ?? globalRegister;
  const metricsPrefix = readMetricPrefix(read, 'metricsPrefix', given.metricsPrefix);
  const streamOptions = given.stream === false ? null : readStreamOptions(read, given.stream);
  const webSocketOptions = readWebSocketOptions(read, given.webSocket, streamOptions !== null);
  const serveUi = given.ui === undefined ? streamOptions !== null : read.boolean('ui', given.ui);
  if (serveUi && !streamOptions) read.fail('ui', given.ui, 'false when the stream is off (the page is drawn from the stream)');
  const uiPath = given.uiPath === undefined ? `${basePath}/ui` : read.plainPath('uiPath', given.uiPath);
  const policy = given.details === undefined ? 'always' : read.oneOf('details', given.details, DETAILS_POLICIES);
  const token = manager.config.remote_token;
  if (policy === 'when-authorized' && !token)
    read.fail('details', policy, 'a remote_token in the heartbeat config, which callers send to see details');
  const auth = token ? new BearerAuth(token) : null;
  const details = new DetailsGate(policy, auth);
  registerMetrics(manager, { registry, prefix: metricsPrefix });
  const readPaths = [
    basePath,
    `${basePath}/status`,
    `${basePath}/service/{name}`,
    `${basePath}/service/{name}/history`,
    `${basePath}/export`,
    `${basePath}/live`,
    `${basePath}/ready`,
    `${basePath}/badge.svg`,
    `${basePath}/badge/{name}.svg`,
  ];
  if (streamOptions) readPaths.push(`${basePath}/stream`);
  if (serveUi) readPaths.push(uiPath);
  const endpoints = auth ? [...readPaths, ...REMOTE_PATHS.map((path) => `${basePath}${path}`)] : readPaths;

  const router = Router();

  const drainSignal = new DrainSignal(manager);
  mountStatusRoutes(router, { manager, basePath, criticalStatusCode, details, drain: drainSignal });
  mountBadgeRoutes(router, { manager, basePath, details });
  router.get(basePath, healthJsonHandler({ manager, basePath, details, uiPath: serveUi ? uiPath : null }));
  mountRemoteRoutes(router, manager, basePath, auth);
  const hub = streamOptions ? new StreamHub(manager, streamOptions) : null;
  if (hub) router.get(`${basePath}/stream`, sseHandler(hub, details));
  const webSocket =
    hub && webSocketOptions
      ? new WebSocketTransport(hub, basePath, details, {
          stream: webSocketOptions.token === null ? null : new BearerAuth(webSocketOptions.token),
          remote: auth,
        })
      : null;
  if (webSocket) {
    router.get(`${basePath}/ws`, webSocketOverHttp(manager));
    // Not in readPaths (the 404's list is openapi.yaml's), but an endpoint all the same: another method is a 405.
    router.all(`${basePath}/ws`, methodNotAllowed('GET'));
  }
  if (serveUi) router.get(uiPath, statusPage(`${basePath}/stream`));

  // A service also takes DELETE (answered 404 while remote heartbeats are off, like a pulse).
  const serviceItem = `${basePath}/service/{name}`;
  for (const path of readPaths) {
    const notAllowed = methodNotAllowed(path === serviceItem ? 'GET, HEAD, DELETE' : 'GET, HEAD');
    router.all(path.replace('{name}', ':name'), path === basePath ? exactPath(notAllowed) : notAllowed);
  }

  if (serveMetrics) {
    router.get(metricsPath, (_req: Request, res: Response) => {
      renderMetrics(registry).then(
        (text) => {
          // res.end, not res.send: Express 4's send rewrites the content type's parameters.
          res.setHeader('Content-Type', registry.contentType);
          res.setHeader('Cache-Control', 'no-store');
          res.end(text);
        },
        (error: unknown) => {
          manager.logger.error({ err: error }, 'Collecting Prometheus metrics failed');
          sendError(res, 500, 'Collecting metrics failed; see the server log.');
        },
      );
    });
    router.all(metricsPath, methodNotAllowed('GET, HEAD'));
  }

  // Anything else under the base path is ours to answer, in JSON; other paths go on to the app.
  router.use(basePath, (req: Request, res: Response) => {
    // The list names the paths a client calls: under the prefix where the app mounted the router
    // (req.baseUrl here ends with the matched basePath, which is literal and so of the same length).
    const mountPath = req.baseUrl.slice(0, req.baseUrl.length - basePath.length);
    sendError(res, 404, `No health endpoint at ${req.method} ${req.originalUrl.split('?')[0]}.`, {
      endpoints: endpoints.map((path) => `${mountPath}${path}`),
    });
  });
  // A name whose percent-encoding does not decode names no service: the same 404, with the raw name.
  router.use(`${basePath}/service`, (error: unknown, req: Request, res: Response, next: (error?: unknown) => void) => {
    if (!(error instanceof URIError)) {
      next(error);
      return;
    }
    const raw = (req.url.split('?')[0] ?? '').replace(/^\//, '').replace(/\/(history|pulse|error)$/, '');
    sendError(res, 404, `No service named ${JSON.stringify(raw)} is monitored.`, { service: raw });
  });
  router.use(
    basePath,
    jsonErrors((error) => {
      manager.logger.error({ err: error }, 'Health endpoint failed');
    }),
  );
  if (serveMetrics)
    router.use(
      metricsPath,
      jsonErrors((error) => {
        manager.logger.error({ err: error }, 'Metrics endpoint failed');
      }),
    );

  // The app's own requests skip the router's dispatch (about 3.5 µs): most are told apart by
  // the first letter of their path, the rest by one test of the whole prefix.
  const ownPathList = [basePath, ...(serveMetrics ? [metricsPath] : []), ...(serveUi ? [uiPath] : [])];
  const ours = ownPaths(basePath, serveMetrics ? metricsPath : null, serveUi ? uiPath : null);
  const firstLetters = new Set(ownPathList.map((path) => path.charCodeAt(1) | CASE_BIT));
  const health = (req: Request, res: Response, next: NextFunction): void => {
    const url = req.url;
    // An absolute-form target (`GET http://host/api/health/status`, sent to proxies) is rare:
    // the router's own URL parsing decides it.
    if (url.charCodeAt(0) !== SLASH || (firstLetters.has(url.charCodeAt(1) | CASE_BIT) && ours.test(url))) router(req, res, next);
    else next();
  };
  return Object.assign(health, {
    manager,
    drain: () => {
      drainSignal.drain();
    },
    attachWebSocket: (server: UpgradableServer, attachOptions?: AttachWebSocketOptions) => {
      if (!webSocket)
        throw new Error('attachWebSocket(): the WebSocket stream is off (healthRouter({ webSocket: false }) or { stream: false }).');
      webSocket.attach(server, attachOptions);
    },
  });
}

/** Set in lowercase ASCII letters and clear in uppercase: `code | CASE_BIT` compares letters as Express does, without case. */
const CASE_BIT = 0x20;
const SLASH = 0x2f;

/**
 * The paths the router answers, as Express matches them (case-insensitively, a trailing slash
 * allowed): everything under `basePath`, and exactly the metrics and page paths.
 */
function ownPaths(basePath: string, metricsPath: string | null, uiPath: string | null): RegExp {
  const exact = [metricsPath, uiPath].filter((path): path is string => path !== null).map(escapeRegExp);
  const under = `${escapeRegExp(basePath)}(?:[/?]|$)`;
  return new RegExp(exact.length > 0 ? `^(?:${under}|(?:${exact.join('|')})/?(?:\\?|$))` : `^${under}`, 'i');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function httpStatus(read: OptionReader, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 200 || value > 599) {
    read.fail(key, value, 'an HTTP status code from 200 to 599, e.g. 503');
  }
  return value;
}
