import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as realDelay } from 'node:timers/promises';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { AlertDispatcher, type AlertTarget } from '../lib/alerts/dispatcher';
import { INCIDENT_NOTES, incidentKey } from '../lib/alerts/saved-incidents';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { fileStore } from '../lib/store';
import { ROOT, waitForExit } from './helpers/child';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger, type LogLine } from './helpers/logger';
import { startReceiver, type Receiver } from './helpers/receiver';

// Open alert incidents survive a restart (issue 16): a real file store in a temporary
// directory, real webhook receivers on loopback, the manager's time on jest's fake timers.
// Deliveries are real HTTP, so the tests wait for them in real time, polling every 10 ms.

/** A configured service, so it is watched from its saved state as soon as the manager restarts. */
const CONFIG: HeartbeatConfig = { services: { save_worker: { interval: 10 } } };
const OFFLINE_MS = 10 * 60_000;

let dir: string;
let clock: TestClock;
const managers: HeartbeatManager[] = [];
const receivers: Receiver[] = [];
const children: ChildProcess[] = [];

interface Run {
  manager: HeartbeatManager;
  dispatcher: AlertDispatcher;
  lines: LogLine[];
}

function useFakeTime(): void {
  // Promise jobs, nextTick and setImmediate stay real: fetch and the receiver run on them.
  jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-alert-restart-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const manager of managers.splice(0)) void manager.close();
  jest.useRealTimers();
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

/** A manager on this test's directory, with a dispatcher sending to `targets`. */
function start(targets: AlertTarget[], config: HeartbeatConfig = CONFIG): Run {
  const { logger, lines } = captureLogger();
  const manager = new HeartbeatManager({ config, clock, logger, store: fileStore({ dir }) });
  managers.push(manager);
  const dispatcher = new AlertDispatcher(manager, { targets, registry: new Registry(), timeoutMs: 5000, attempts: 1 });
  return { manager, dispatcher, lines };
}

/** A clean stop, then `OFFLINE_MS` with no monitor, then a new manager and dispatcher on the same directory. */
function restart(run: Run, targets: AlertTarget[], config: HeartbeatConfig = CONFIG): Run {
  void run.manager.close();
  clock.skip(OFFLINE_MS);
  return start(targets, config);
}

/** Waits until every alert made so far was delivered or given up on: what a receiver holds then is all it gets. */
async function delivered(run: Run): Promise<void> {
  // Alerts leave their queue from a promise job: let those of this turn start first.
  await new Promise((resolve) => setImmediate(resolve));
  for (let waited = 0; run.dispatcher.pending > 0; waited += 10) {
    if (waited > 10_000) throw new Error(`alerts still pending after 10 s: ${run.dispatcher.pending}`);
    await realDelay(10);
  }
}

const statuses = (target: Receiver): string[] => target.received.map((request) => request.body.status as string);

/** Pulses `worker`'s service on time for `ms`, so it stays healthy while time passes. */
function pulseFor(manager: HeartbeatManager, ms: number): void {
  const worker = manager.get('save_worker');
  for (let passed = 0; passed < ms; passed += 5000) {
    clock.advance(5000);
    worker?.pulse();
  }
}

/** Seconds from the incident's first alert, as the receiver got it, to now. */
const secondsSince = (alertTime: string): number => (clock.wallNow() - Date.parse(alertTime)) / 1000;

describe('after a clean stop', () => {
  beforeEach(useFakeTime);

  it('sends no second alert for a service still critical, and one resolved, timed from the first alert, once it recovers', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops', minLevel: 'critical' }];
    const first = start(targets);
    first.manager.heartbeat({ tag: 'save_worker' }).start();
    clock.advance(60_000); // five missed beats: critical
    await delivered(first);
    expect(statuses(ops)).toEqual(['critical']);
    const firstAlert = ops.received[0]?.body as { time: string };

    const second = restart(first, targets);
    // The incident is saved under the target's name: the webhook URL, a secret, is in no file.
    const files = readdirSync(dir).map((name) => readFileSync(join(dir, name), 'utf8'));
    expect(files.some((text) => text.includes(JSON.stringify(incidentKey('save_worker', 'ops'))))).toBe(true);
    expect(files.filter((text) => text.includes('SECRET-TOKEN'))).toEqual([]);
    expect(second.manager.service('save_worker')?.status).toBe('critical');
    clock.advance(5 * 60_000);
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical']);

    second.manager.heartbeat({ tag: 'save_worker' }).start(); // the worker is back
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
    const resolved = ops.received[1]?.body as { previous: string; down_seconds: number };
    expect(resolved.previous).toBe('critical');
    // From the first alert, before the stop: the 10 minutes offline and the 5 after the restart count.
    expect(resolved.down_seconds).toBeGreaterThan(15 * 60);
    expect(Math.abs(resolved.down_seconds - secondsSince(firstAlert.time))).toBeLessThanOrEqual(1);
    expect(second.manager.notesOf(INCIDENT_NOTES).size).toBe(0);

    pulseFor(second.manager, 10 * 60_000);
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
  });

  it('goes on with the reminders where they were, none before the service had an interval and its grace', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops', minLevel: 'critical' }];
    const config: HeartbeatConfig = { ...CONFIG, repeat_every: 60 };
    const first = start(targets, config);
    first.manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
    clock.advance(130_000);
    await delivered(first);
    expect(ops.received.map((request) => request.body.reminder as number | undefined)).toEqual([undefined, 1, 2]);

    const second = restart(first, targets, config);
    // The reminder due while the monitor was offline waits for save_worker's interval and grace (11 s).
    clock.advance(10_000);
    await delivered(second);
    expect(ops.received).toHaveLength(3);
    clock.advance(2000);
    await delivered(second);
    expect(ops.received.slice(3).map((request) => [request.body.status, request.body.reminder])).toEqual([['critical', 3]]);
    clock.advance(60_000);
    await delivered(second);
    expect(ops.received.slice(4).map((request) => [request.body.status, request.body.reminder])).toEqual([['critical', 4]]);

    second.manager.heartbeat({ tag: 'save_worker' }).start();
    await delivered(second);
    expect(statuses(ops).slice(5)).toEqual(['resolved']);
    expect(ops.received[5]?.body.down_seconds).toBeGreaterThan(OFFLINE_MS / 1000 + 130);
  });

  it('counts recover_after pulses again from the restart for a recovery not yet announced', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops' }];
    const config: HeartbeatConfig = { ...CONFIG, recover_after: 3 };
    const first = start(targets, config);
    const worker = first.manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('disk full', { critical: true });
    clock.advance(1000);
    worker.pulse(); // healthy, but two more on-time pulses are needed before the resolved
    clock.advance(1000);
    await delivered(first);
    expect(statuses(ops)).toEqual(['critical']);

    const second = restart(first, targets, config);
    const again = second.manager.heartbeat({ tag: 'save_worker' }).start();
    clock.advance(9000);
    again.pulse();
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical']);
    clock.advance(10_000);
    again.pulse(); // the third on-time pulse, the one before the restart included
    clock.advance(2000);
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
  });

  it('leaves the incident of a removed target alone, and resolves the others', async () => {
    const ops = await receiver();
    const pager = await receiver();
    const both: AlertTarget[] = [
      { url: ops.url, name: 'ops', minLevel: 'critical' },
      { url: pager.url, name: 'pager', minLevel: 'critical' },
    ];
    const first = start(both);
    first.manager.heartbeat({ tag: 'save_worker' }).error('kernel panic', { critical: true });
    await delivered(first);
    expect([statuses(ops), statuses(pager)]).toEqual([['critical'], ['critical']]);

    const second = restart(first, [both[0] as AlertTarget]);
    expect(second.lines.map((line) => line.msg)).toContain(
      "Left the saved incidents of 1 alert target alone that this dispatcher does not have (removed or renamed since, or another dispatcher's)",
    );
    second.manager.heartbeat({ tag: 'save_worker' }).start();
    await delivered(second);
    expect([statuses(ops), statuses(pager)]).toEqual([['critical', 'resolved'], ['critical']]);
    // Still kept: the pager hears its resolved if it comes back before the incident ends.
    expect([...second.manager.notesOf(INCIDENT_NOTES).keys()]).toEqual([incidentKey('save_worker', 'pager')]);
  });

  it('skips a saved incident it cannot read with a log line, and restores the rest', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops', minLevel: 'critical' }];
    const config: HeartbeatConfig = { services: { save_worker: { interval: 10 }, mailer: { interval: 10 } } };
    const first = start(targets, config);
    first.manager.heartbeat({ tag: 'save_worker' }).error('disk full', { critical: true });
    // What a damaged or hand-edited state file could hold: a bad value for a known target, and a key no dispatcher makes.
    first.manager.note(INCIDENT_NOTES, incidentKey('mailer', 'ops'), { since: 'yesterday', alerted: 'critical', reminders: 0 });
    first.manager.note(INCIDENT_NOTES, 'not-a-key', { since: 0 });
    await delivered(first);

    const second = restart(first, targets, config);
    const warnings = second.lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings).toEqual([
      'Skipped a saved alert incident that could not be read ("since" is not a wall-clock time in ms): no resolved alert will follow for it',
      'Skipped a saved alert incident that could not be read (its key names no service and target): no resolved alert will follow for it',
    ]);
    // The bad note of a known target goes, so it is not logged at every start; the stray key stays.
    expect([...second.manager.notesOf(INCIDENT_NOTES).keys()].sort()).toEqual([incidentKey('save_worker', 'ops'), 'not-a-key']);
    second.manager.heartbeat({ tag: 'mailer' }).start();
    second.manager.heartbeat({ tag: 'save_worker' }).start();
    await delivered(second);
    expect(ops.received.map((request) => `${request.body.service}:${request.body.status}`)).toEqual([
      'save_worker:critical',
      'save_worker:resolved',
    ]);
  });
});

describe('a service that remote calls registered', () => {
  beforeEach(useFakeTime);
  const TOKEN = 'test-token-0123456789abcdef';
  const REMOTE: HeartbeatConfig = { remote_token: TOKEN, auto_register: true, default_interval: 10 };

  /** The app a remote caller pulses, on `run`'s manager: the router takes up the services it registered. */
  function appOf(run: Run): express.Express {
    const app = express();
    app.use(healthRouter({ manager: run.manager, registry: new Registry() }));
    return app;
  }
  const pulse = (app: express.Express) =>
    request(app)
      .post('/api/health/service/billing/pulse')
      .set({ Authorization: `Bearer ${TOKEN}` });

  it('stays alerted while it stays silent after the restart, and is resolved by its next pulse', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops', minLevel: 'critical' }];
    const first = start(targets, REMOTE);
    expect((await pulse(appOf(first))).status).toBe(204);
    clock.advance(60_000); // silent: critical
    await delivered(first);
    expect(statuses(ops)).toEqual(['critical']);

    const second = restart(first, targets, REMOTE);
    const app = appOf(second);
    // Past the interval and grace the restart gives it, its misses count again: still critical, no new alert.
    clock.advance(5 * 60_000);
    await delivered(second);
    expect(second.manager.service('billing')?.status).toBe('critical');
    expect(statuses(ops)).toEqual(['critical']);

    expect((await pulse(app)).status).toBe(204);
    clock.advance(1);
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
    expect(ops.received[1]?.body.down_seconds).toBeGreaterThan(OFFLINE_MS / 1000 + 5 * 60);
  });
});

describe('a service nothing runs at the restart', () => {
  beforeEach(useFakeTime);
  const AD_HOC: HeartbeatConfig = {};

  it('gets its resolved when its app starts it again', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops' }];
    const first = start(targets, AD_HOC);
    first.manager.heartbeat({ tag: 'mailer', interval: 10 }).error('smtp refused', { critical: true });
    await delivered(first);
    expect(statuses(ops)).toEqual(['critical']);

    // The dispatcher comes first, as in most apps: the in-process service is not running yet.
    const second = restart(first, targets, AD_HOC);
    expect(second.manager.service('mailer')).toBeUndefined();
    clock.advance(60_000);
    second.manager.heartbeat({ tag: 'mailer', interval: 10 }).start();
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
    expect(ops.received[1]?.body).toMatchObject({ previous: 'critical', reason: 'started' });
    expect(ops.received[1]?.body.down_seconds).toBeGreaterThan(OFFLINE_MS / 1000);
  });

  it('resolves an incident whose recovery was saved just before a crash, at its next change', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops' }];
    const first = start(targets, AD_HOC);
    first.manager.heartbeat({ tag: 'mailer', interval: 10 }).start();
    // The store as a crash leaves it between saving the recovery and closing the incident:
    // the service healthy, its incident still open.
    const wallNow = clock.wallNow();
    first.manager.note(INCIDENT_NOTES, incidentKey('mailer', 'ops'), {
      since: wallNow - 60_000,
      alerted: 'critical',
      reminders: 0,
      alerted_at: wallNow - 60_000,
    });

    const second = restart(first, targets, AD_HOC);
    const mailer = second.manager.heartbeat({ tag: 'mailer', interval: 10 }).start();
    await delivered(second);
    expect(statuses(ops)).toEqual([]);
    mailer.error('smtp refused');
    await delivered(second);
    expect(statuses(ops)).toEqual(['resolved', 'warning']);
    expect(ops.received[0]?.body).toMatchObject({ previous: 'critical' });
  });

  it('forgets an incident whose service was not seen for retention_days', async () => {
    const ops = await receiver();
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops' }];
    const config: HeartbeatConfig = { retention_days: 1 };
    const first = start(targets, config);
    first.manager.heartbeat({ tag: 'mailer', interval: 10 }).error('smtp refused', { critical: true });
    await delivered(first);
    void first.manager.close();
    clock.skip(2 * 86_400_000);
    const second = start(targets, config);
    expect(second.manager.notesOf(INCIDENT_NOTES).size).toBe(0);
    second.manager.heartbeat({ tag: 'mailer', interval: 10 }).start();
    await delivered(second);
    expect(statuses(ops)).toEqual(['critical']);
  });
});

describe('targets of the same name', () => {
  beforeEach(useFakeTime);

  it('keep an incident each', async () => {
    const one = await receiver();
    const two = await receiver();
    const targets: AlertTarget[] = [
      { url: one.url, name: 'ops' },
      { url: two.url, name: 'ops' },
    ];
    const first = start(targets);
    first.manager.heartbeat({ tag: 'save_worker' }).error('disk full');
    await delivered(first);
    expect(first.manager.notesOf(INCIDENT_NOTES).size).toBe(2);

    const second = restart(first, targets);
    second.manager.heartbeat({ tag: 'save_worker' }).start();
    await delivered(second);
    expect([statuses(one), statuses(two)]).toEqual([
      ['warning', 'resolved'],
      ['warning', 'resolved'],
    ]);
  });
});

describe('after a crash', () => {
  // The first manager runs in a child process killed with SIGKILL: it saves no final snapshot
  // and its lock is left behind, as in a real crash. In this process a manager holds its
  // directory until close(), and close() is what a crash skips.
  it('sends no second alert for a service still critical, and one resolved, timed from the first alert, once it recovers', async () => {
    const ops = await receiver();
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', CRASHING_CHILD], {
      cwd: ROOT,
      env: { ...process.env, STATE_DIR: dir, WEBHOOK_URL: ops.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const exited = waitForExit(child);
    for (let waited = 0; ops.received.length === 0; waited += 10) {
      if (waited > 20_000 || child.exitCode !== null) throw new Error(`the child sent no alert: ${JSON.stringify(await exited)}`);
      await realDelay(10);
    }
    child.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    expect(statuses(ops)).toEqual(['critical']);
    const firstAlert = ops.received[0]?.body as { time: string };

    useFakeTime();
    clock.skip(OFFLINE_MS);
    const targets: AlertTarget[] = [{ url: ops.url, name: 'ops', minLevel: 'critical' }];
    const run = start(targets);
    expect(run.manager.service('save_worker')?.status).toBe('critical');
    clock.advance(5 * 60_000);
    await delivered(run);
    expect(statuses(ops)).toEqual(['critical']);

    run.manager.heartbeat({ tag: 'save_worker' }).start();
    await delivered(run);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
    const resolved = ops.received[1]?.body as { down_seconds: number };
    expect(resolved.down_seconds).toBeGreaterThanOrEqual(15 * 60);
    expect(Math.abs(resolved.down_seconds - secondsSince(firstAlert.time))).toBeLessThanOrEqual(1);

    pulseFor(run.manager, 10 * 60_000);
    await delivered(run);
    expect(statuses(ops)).toEqual(['critical', 'resolved']);
  });
});

/** The first process of the crash test: save_worker fails critically, is alerted, and the process waits to be killed. */
const CRASHING_CHILD = `
const { AlertDispatcher, HeartbeatManager, fileStore } = require('./lib');
const manager = new HeartbeatManager({
  config: ${JSON.stringify(CONFIG)},
  store: fileStore({ dir: process.env.STATE_DIR }),
});
new AlertDispatcher(manager, { targets: [{ url: process.env.WEBHOOK_URL, name: 'ops', minLevel: 'critical' }] });
manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
setInterval(() => undefined, 60_000);
`;
