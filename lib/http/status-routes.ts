import type { Request, Response, Router } from 'express';
import { statusSummary, serviceSummary, type DetailsGate } from './details';
import { readCountParam } from './history-params';
import { exportHandler } from './export';
import { MAX_HISTORY_SIZE } from '../core/config';
import type { HeartbeatManager } from '../core/manager';
import type { DrainSignal } from './drain';
import { sendError, sendJson } from './respond';
import { storeView } from './store-view';

export interface StatusRouteSettings {
  manager: HeartbeatManager;
  basePath: string;
  criticalStatusCode: number;
  details: DetailsGate;
  /** Says when the server is shutting down, so that /ready answers `draining`. */
  drain: DrainSignal;
}

const notMonitored = (res: Response, name: string) => {
  sendError(res, 404, `No service named ${JSON.stringify(name)} is monitored.`, { service: name });
};

/**
 * The read side of the health API: status, one service, its history, the export, and the
 * probes. Callers the details policy does not admit see status words only; the history and
 * the export, which are all details, refuse them.
 */
export function mountStatusRoutes(router: Router, { manager, basePath, criticalStatusCode, details, drain }: StatusRouteSettings): void {
  router.get(`${basePath}/status`, (req: Request, res: Response) => {
    const body = manager.statusView(); // serialised right here, before the next request can rewrite it
    const code = body.overall_status === 'critical' ? criticalStatusCode : 200;
    sendJson(res, code, details.allows(req) ? body : statusSummary(body));
  });

  router.get(`${basePath}/service/:name`, (req: Request, res: Response) => {
    const name = String(req.params.name);
    const body = manager.service(name);
    if (!body) {
      notMonitored(res, name);
      return;
    }
    sendJson(res, 200, details.allows(req) ? body : serviceSummary(body));
  });

  const detailsOnly = (req: Request, res: Response, next: () => void): void => {
    if (details.allows(req)) {
      next();
      return;
    }
    const { status, error } = details.refusal();
    if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="heartbeat"');
    sendError(res, status, error);
  };

  router.get(`${basePath}/service/:name/history`, detailsOnly, (req: Request, res: Response) => {
    const name = String(req.params.name);
    // The query is checked before the name: a bad days or limit is the same mistake for any service.
    const days = readCountParam('days', req.query.days, manager.config.retention_days, 'retention_days');
    const limit = readCountParam('limit', req.query.limit, MAX_HISTORY_SIZE, 'the most history_size allows');
    if ('error' in days || 'error' in limit) {
      const { error, ...named } = 'error' in days ? days : (limit as Extract<typeof limit, { error: string }>);
      sendError(res, 400, error, named);
      return;
    }
    const options: { days?: number; limit?: number } = {};
    if (days.value !== undefined) options.days = days.value;
    if (limit.value !== undefined) options.limit = limit.value;
    const body = manager.history(name, options);
    if (body) sendJson(res, 200, body);
    else notMonitored(res, name);
  });

  router.get(`${basePath}/export`, detailsOnly, exportHandler(manager));

  // Answering at all proves the process lives; the lag says whether its event loop keeps up.
  // A degraded store is shown, not failed: monitoring goes on in memory, and a restart (what
  // a failed liveness probe brings) would not mend a full or read-only disk, only lose that memory.
  router.get(`${basePath}/live`, (req: Request, res: Response) => {
    sendJson(res, 200, {
      status: 'ok',
      ...manager.monitorHealth(),
      store: storeView(manager.storeHealth(), details.allows(req), manager.replicas),
    });
  });

  router.get(`${basePath}/ready`, (req: Request, res: Response) => {
    const { services, overall_status } = manager.statusView();
    const failing = Object.entries(services)
      // A paused service is not expected to work, as overall_status says: it does not fail readiness.
      .filter(([tag, entry]) => entry.critical && entry.status === 'critical' && !manager.isPaused(tag))
      .map(([tag]) => tag);
    // Shutting down outranks everything: a load balancer must stop sending before the listener closes.
    const draining = drain.draining;
    const ready = !draining && overall_status !== 'offline' && failing.length === 0;
    const status = draining ? 'draining' : ready ? 'ready' : 'not_ready';
    sendJson(res, ready ? 200 : 503, { status, overall_status, failing: details.allows(req) ? failing : [] });
  });
}
