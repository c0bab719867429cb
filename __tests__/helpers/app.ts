import express from 'express';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { HeartbeatConfig } from '../../lib/core/config';
import { HeartbeatManager } from '../../lib/core/manager';
import { healthRouter, type HealthRouterOptions } from '../../lib/http/router';
import { createTestClock, type TestClock } from './clock';
import { trackManager } from './managers';

export interface AppFixture {
  app: express.Express;
  manager: HeartbeatManager;
  registry: Registry;
  clock: TestClock;
}

/**
 * An Express 5 app with the health router mounted on a fresh registry and a manager on the
 * test clock. Call `jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] })` first:
 * supertest's sockets need the real ones. Logs go nowhere unless a `logger` is given (with a
 * `log_level` in `config`).
 */
export function createApp(
  config: HeartbeatConfig = {},
  options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {},
  logger?: Logger,
): AppFixture {
  const clock = createTestClock();
  const manager = trackManager(new HeartbeatManager({ config: { log_level: 'silent', ...config }, clock, ...(logger ? { logger } : {}) }));
  const registry = new Registry();
  const app = express();
  app.use(healthRouter({ manager, registry, ...options }));
  app.get('/app-route', (_req, res) => {
    res.send('the app answers');
  });
  return { app, manager, registry, clock };
}
