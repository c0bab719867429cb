import type { Server } from 'node:http';
import express from 'express';
import { Registry } from 'prom-client';
import { HeartbeatManager } from '../../lib/core/manager';
import type { HeartbeatConfig } from '../../lib/core/config';
import { healthRouter, type HealthRouterOptions } from '../../lib/http/router';
import { createTestClock, type TestClock } from './clock';
import { openStream, type SseClient } from './sse';

/** What each live-stream test starts from: a test clock and a manager on it. */
export interface StreamFixture {
  clock: TestClock;
  manager: HeartbeatManager;
}

/** The fixture's app, once started: its loopback address and server. */
export interface StartedStreamApp {
  base: string;
  server: Server;
}

/**
 * Before each test of the file, on mocked timers: a test clock and a silent manager on it
 * (`config` added), handed to `use`. `start()` serves the manager's health router on loopback;
 * `connect()` opens an SSE stream to it. After each test every stream, the server and the
 * manager are closed.
 */
export function useStreamFixture(
  use: (fixture: StreamFixture) => void,
  config: HeartbeatConfig = {},
): {
  start(options?: Omit<HealthRouterOptions, 'manager' | 'registry'>, trustProxy?: string): Promise<StartedStreamApp>;
  connect(headers?: Record<string, string>): Promise<SseClient>;
} {
  let manager: HeartbeatManager | undefined;
  let started: StartedStreamApp | undefined;
  const clients: SseClient[] = [];
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const clock = createTestClock();
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config } });
    use({ clock, manager });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    void manager?.close();
    if (started) {
      const { server } = started;
      started = undefined;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    jest.useRealTimers();
  });
  return {
    async start(options = {}, trustProxy) {
      const app = express();
      if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
      app.use(healthRouter({ manager, registry: new Registry(), ...options }));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      started = { server, base: `http://127.0.0.1:${String((server.address() as { port: number }).port)}` };
      return started;
    },
    async connect(headers = {}) {
      if (!started) throw new Error('connect() before start()');
      const client = await openStream(`${started.base}/api/health/stream`, headers);
      clients.push(client);
      return client;
    },
  };
}

/** The data of each `name` event `client` received, parsed. */
export const eventsOf = (client: SseClient, name: string) =>
  client.events.filter((event) => event.event === name).map((event) => JSON.parse(event.data));

/** One turn of the event loop: what the hub flushes at the end of the turn has gone out. */
export const settle = (): Promise<unknown> => new Promise((resolve) => setImmediate(resolve));
