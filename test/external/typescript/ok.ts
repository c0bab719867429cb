// A strict TypeScript consumer, compiled against the shipped .d.ts files.
import express from 'express';
import {
  AlertDispatcher,
  Heartbeat,
  HeartbeatManager,
  healthRouter,
  pulseMiddleware,
  type HealthStatus,
  type ServiceHealth,
  type StatusChange,
} from 'express-heartbeat';

const manager = new HeartbeatManager({ config: { services: { save_worker: { interval: 30, critical: true } } } });
const worker: Heartbeat = manager.heartbeat({ tag: 'save_worker' }).start();
worker.pulse({ queue_depth: 12 });
worker.error('disk full', { critical: false });
manager.on('status', (change: StatusChange) => console.log(change.service, change.from, change.to));
manager.check('postgres', async (signal: AbortSignal) => void signal.aborted, { interval: 10, timeout: 2000 });
new AlertDispatcher(manager, { targets: [{ url: 'http://127.0.0.1:9/hook', minLevel: 'critical' }] });

const app = express();
app.use(pulseMiddleware(worker));
app.use(healthRouter({ manager, details: 'always', stream: { maxClients: 10 } }));
const status: HealthStatus = manager.status();
const service: ServiceHealth | undefined = manager.service('save_worker');
console.log(status.overall_status, service?.uptime);
manager.close();
