import { Router, type Request, type Response } from 'express';
import type { HeartbeatManager } from '../lib';
import type { SimulatedWorker } from './workers';

const ACTIONS = ['stall', 'resume', 'fail', 'crash'] as const;
type Action = (typeof ACTIONS)[number];

/**
 * Demo controls, so a person can watch a service go bad and recover:
 * `POST /demo/services/{name}/stall | resume | fail | crash`.
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
  return router;
}
