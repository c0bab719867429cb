import express from 'express';
import express4 from 'express4';
import { Registry } from 'prom-client';
import request from 'supertest';
import { healthRouter } from '../lib/http/router';
import { createApp } from './helpers/app';
import { fastDemoConfig, pollUntil, startDemoProcess, type DemoProcess } from './helpers/demo';
import { closeManagers } from './helpers/managers';

const TOKEN = 'drain-token-0123456789abcdef';

describe('the router', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
  });
  afterEach(() => {
    closeManagers();
    jest.useRealTimers();
  });

  it('answers /ready with 503 draining from drain() on, while /live and /status go on answering 200', async () => {
    const fixture = createApp();
    fixture.manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const health = healthRouter({ manager: fixture.manager, registry: new Registry() });
    const app = express4();
    app.use(health);
    expect((await request(app).get('/api/health/ready')).body).toEqual({ status: 'ready', overall_status: 'healthy', failing: [] });

    health.drain();
    health.drain(); // again: nothing changes
    const ready = await request(app).get('/api/health/ready');
    expect([ready.status, ready.headers['cache-control'], ready.body]).toEqual([
      503,
      'no-store',
      { status: 'draining', overall_status: 'healthy', failing: [] },
    ]);
    expect((await request(app).get('/api/health/live')).status).toBe(200);
    expect((await request(app).get('/api/health/status')).status).toBe(200);
    // Another router of the same manager is not draining: drain() belongs to the server that stops.
    expect((await request(fixture.app).get('/api/health/ready')).status).toBe(200);
  });

  it('drains once the manager closes, without drain()', async () => {
    const { app, manager } = createApp();
    manager.heartbeat({ tag: 'core', interval: 30 }).start();
    void manager.close();
    const ready = await request(app).get('/api/health/ready');
    expect([ready.status, ready.body.status]).toEqual([503, 'draining']);
    expect((await request(app).get('/api/health/live')).status).toBe(200);
  });

  it('still names the failing services while draining, to a caller the details policy admits only', async () => {
    const { manager } = createApp({ remote_token: TOKEN });
    manager.heartbeat({ tag: 'core', interval: 30 }).start().error('down', { critical: true });
    const health = healthRouter({ manager, registry: new Registry(), details: 'when-authorized' });
    const app = express();
    app.use(health);
    health.drain();
    const anonymous = await request(app).get('/api/health/ready');
    expect([anonymous.status, anonymous.body]).toEqual([503, { status: 'draining', overall_status: 'critical', failing: [] }]);
    const admitted = await request(app).get('/api/health/ready').set('Authorization', `Bearer ${TOKEN}`);
    expect(admitted.body).toEqual({ status: 'draining', overall_status: 'critical', failing: ['core'] });
  });
});

describe('the demo', () => {
  let demo: DemoProcess | undefined;
  afterEach(async () => {
    await demo?.stop('SIGKILL');
    demo = undefined;
  });

  it('drains on SIGTERM for SHUTDOWN_DELAY_MS: /ready answers 503 draining while the listener still answers, then it exits 0', async () => {
    // Long enough to be seen on a busy machine; the poll ends as soon as the drain shows.
    demo = await startDemoProcess(fastDemoConfig(1), { SHUTDOWN_DELAY_MS: '3000' });
    const { bridgeUrl } = demo;
    const ready = async (): Promise<{ status: number; body: string }> => {
      const response = await fetch(`${bridgeUrl}/api/health/ready`);
      return { status: response.status, body: ((await response.json()) as { status: string }).status };
    };
    expect((await ready()).body).not.toBe('draining');

    const stopped = demo.stop('SIGTERM');
    const seen = await pollUntil(ready, (answer) => answer.body === 'draining', 10_000);
    expect(seen.at(-1)).toEqual({ status: 503, body: 'draining' });
    // The process is alive and serving: the liveness probe says so, and so does the app itself.
    expect((await fetch(`${bridgeUrl}/api/health/live`)).status).toBe(200);
    expect((await fetch(`${bridgeUrl}/api/health/status`)).ok).toBe(true);
    const exit = await stopped;
    expect(exit.code).toBe(0);
    expect(demo.logs.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['Draining: /ready answers 503 for 3000 ms before the listeners close', 'Shutting down', 'Stopped']),
    );
    await expect(fetch(`${bridgeUrl}/api/health/live`)).rejects.toThrow();
  }, 30_000);

  it('cuts a SIGTERM drain short on Ctrl-C (SIGINT), closing cleanly', async () => {
    // A minute's drain: only the SIGINT can end it before the test helper's SIGKILL at 5 s.
    demo = await startDemoProcess(fastDemoConfig(1), { SHUTDOWN_DELAY_MS: '60000' });
    const { bridgeUrl, child } = demo;
    const stopped = demo.stop('SIGTERM');
    const readyStatus = async (): Promise<number | string> => {
      try {
        return (await fetch(`${bridgeUrl}/api/health/ready`)).status;
      } catch (error) {
        // A pooled keep-alive socket that the server's keep-alive timeout closed just as it was
        // reused resets (a busy machine widens that window): no answer, so read again. A server
        // that stopped answering fails the poll with these in what it saw.
        return `no answer: ${String((error as Error).cause ?? error)}`;
      }
    };
    await pollUntil(readyStatus, (status) => status === 503, 10_000);
    child.kill('SIGINT');
    expect((await stopped).code).toBe(0);
    expect(demo.logs.map((line) => line.msg)).toEqual(expect.arrayContaining(['Shutting down', 'Stopped']));
  }, 30_000);

  it.each(['-1', '1.5', 'soon', '60001'])(
    'refuses SHUTDOWN_DELAY_MS=%s at start, naming it',
    async (value) => {
      await expect(startDemoProcess(fastDemoConfig(1), { SHUTDOWN_DELAY_MS: value })).rejects.toThrow(
        `SHUTDOWN_DELAY_MS is ${JSON.stringify(value)}; expected whole milliseconds from 0 to 60000, e.g. 2000.`,
      );
    },
    30_000,
  );
});
