import { Router, type Request, type Response } from 'express';
import type { HeartbeatManager } from '../lib';
import type { SimulatedWorker } from './workers';

const ACTIONS = ['stall', 'slow', 'resume', 'fail', 'crash'] as const;
type Action = (typeof ACTIONS)[number];
/** The actions only a simulated worker takes, as the 409 for a service that pulses per request words them. */
const WORKER_ONLY = { stall: 'stalled', slow: 'slowed', resume: 'resumed' } as const;

/** A maintenance window started from the demo lasts this long unless `?minutes=` says otherwise. */
const DEFAULT_MAINTENANCE_MINUTES = 10;
/** Longest maintenance window the demo control starts: a day. */
const MAX_MAINTENANCE_MINUTES = 1440;
/** The pause reason a maintenance window gives, the same word the config's windows use. */
const MAINTENANCE = 'maintenance';

/**
 * Demo controls, so a person can watch a service go bad and recover:
 * `POST /demo/services/{name}/stall | slow | resume | fail | crash`, `POST /demo/maintenance?minutes=N`
 * and `POST /demo/maintenance/end`, and `GET /demo/slow?ms=` (at most 1000), a request that
 * takes its time.
 * Stall, slow and resume apply to the simulated workers; fail and crash to any service.
 */
export function demoControls(manager: HeartbeatManager, workers: ReadonlyMap<string, SimulatedWorker>): Router {
  const router = Router();
  router.post('/demo/services/:name/:action', (req: Request, res: Response) => {
    const name = String(req.params.name);
    const action = String(req.params.action) as Action;
    res.set('Cache-Control', 'no-store');
    if (!ACTIONS.includes(action)) {
      res.status(404).json({ error: `Unknown action ${JSON.stringify(action)}; use one of ${ACTIONS.join(', ')}.`, action });
      return;
    }
    const heartbeat = manager.get(name);
    if (!heartbeat || !manager.service(name)) {
      res.status(404).json({ error: `No service named ${JSON.stringify(name)} is monitored.`, service: name });
      return;
    }
    const worker = workers.get(name);
    if (action in WORKER_ONLY && !worker) {
      res.status(409).json({
        error: `${name} pulses on every request, so it cannot be ${WORKER_ONLY[action as keyof typeof WORKER_ONLY]}; ${action} one of ${[...workers.keys()].join(', ')}.`,
        service: name,
      });
      return;
    }
    if (action === 'stall') worker?.stall();
    if (action === 'slow') worker?.slowDown();
    if (action === 'resume') worker?.resume();
    if (action === 'fail') heartbeat.error(`simulated failure in ${name}`);
    if (action === 'crash') heartbeat.error(`simulated crash in ${name}`, { critical: true });
    res.json({ service: name, action, status: manager.service(name)?.status });
  });

  // A maintenance window on demand: every service paused for N minutes, as an operator would
  // before a deploy. The config's `maintenance` list does the same on a schedule.
  router.post('/demo/maintenance', (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    const given = req.query.minutes;
    const minutes = given === undefined ? DEFAULT_MAINTENANCE_MINUTES : Number(given);
    if (typeof given === 'object' || !Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_MAINTENANCE_MINUTES) {
      res.status(400).json({
        error: `minutes is ${JSON.stringify(given)}; expected a number of minutes above 0 and at most ${MAX_MAINTENANCE_MINUTES}, e.g. 10.`,
        minutes: given,
      });
      return;
    }
    const until = new Date(Date.now() + minutes * 60_000);
    const services = manager.tags();
    for (const tag of services) manager.pause(tag, { until, reason: MAINTENANCE });
    res.json({ maintenance: true, until: until.toISOString(), services });
  });
  router.post('/demo/maintenance/end', (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    // resume() is true only for a service that pause() had paused: those are the ones this ends.
    const resumed = manager.tags().filter((tag) => manager.resume(tag));
    res.json({ maintenance: false, services: resumed });
  });

  // A slow bridge call, to watch a graceful shutdown finish the requests it had accepted.
  router.get('/demo/slow', (req: Request, res: Response) => {
    const ms = Math.min(1000, Math.max(0, Number(req.query.ms) || 0));
    const timer = setTimeout(() => res.json({ waited_ms: ms }), ms);
    res.on('close', () => {
      clearTimeout(timer);
    });
  });
  return router;
}
