import { Router, type Request, type Response } from 'express';
import type { HeartbeatManager } from '../lib';
import type { SimulatedWorker } from './workers';

const ACTIONS = ['stall', 'resume', 'fail', 'crash'] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Demo controls, so a person can watch a service go bad and recover:
 * `POST /demo/services/{name}/stall | resume | fail | crash`, and `GET /demo/slow?ms=` (at most
 * 1000), a request that takes its time.
 * Stall and resume apply to the simulated workers; fail and crash to any service.
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
    if ((action === 'stall' || action === 'resume') && !worker) {
      res.status(409).json({
        error: `${name} pulses on every request, so it cannot be stalled; stall one of ${[...workers.keys()].join(', ')}.`,
        service: name,
      });
      return;
    }
    if (action === 'stall' && worker) worker.stalled = true;
    if (action === 'resume' && worker) {
      worker.stalled = false;
      heartbeat.pulse();
    }
    if (action === 'fail') heartbeat.error(`simulated failure in ${name}`);
    if (action === 'crash') heartbeat.error(`simulated crash in ${name}`, { critical: true });
    res.json({ service: name, action, status: manager.service(name)?.status });
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
