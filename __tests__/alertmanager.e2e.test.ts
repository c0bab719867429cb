import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import { alertmanagerNotifier, ALERTMANAGER_STATUS_ALERT, type AlertmanagerOptions } from '../lib/alerts/targets/alertmanager';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import { fileStore } from '../lib/store';
import { useAlertmanagerWithHook, type AlertmanagerNotification, type GettableAlert } from './helpers/alertmanager';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';

// The Alertmanager target against a real `prometheus-alertmanager` (issue 19): what it holds
// (GET /api/v2/alerts) and what it tells a webhook receiver of its own. Alertmanager keeps wall
// time, so the resend horizon is crossed in real time: with a resendMs of a few hundred ms,
// every wait is a bounded poll of a second or two.

const PAGE = 'http://127.0.0.1:3000/api/health/ui';
const INSTANCE = 'e2e-monitor';
const CONFIG: HeartbeatConfig = { services: { save_worker: { interval: 10 } } };

const am = useAlertmanagerWithHook();
const managers: HeartbeatManager[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const manager of managers.splice(0)) void manager.close();
  jest.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A manager alerting Alertmanager for the services of this test only (each test has its own tags). */
function start(options: Partial<AlertmanagerOptions> & { dir?: string; clock?: TestClock } = {}): {
  manager: HeartbeatManager;
  dispatcher: AlertDispatcher;
} {
  const { dir, clock, ...target } = options;
  const manager = new HeartbeatManager({
    config: CONFIG,
    logger: captureLogger().logger,
    ...(clock ? { clock } : {}),
    ...(dir ? { store: fileStore({ dir }) } : {}),
  });
  managers.push(manager);
  const notifier = alertmanagerNotifier({ url: am.alertmanager.url, pageUrl: PAGE, instance: INSTANCE, ...target });
  const dispatcher = new AlertDispatcher(manager, {
    targets: [{ notifier }],
    registry: new Registry(),
    timeoutMs: 5000,
    attempts: 3,
    backoffMs: 50,
  });
  return { manager, dispatcher };
}

/** Polls `read` every 50 ms of real time until `done`, for at most `timeoutMs`; returns the last value. */
async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Gave up after ${timeoutMs} ms; last saw ${JSON.stringify(value)}`);
    await realDelay(50);
  }
}

const ofService = (service: string): Promise<GettableAlert[]> => am.alertsOf(service);
const notifications = (service: string): AlertmanagerNotification[] => am.notificationsOf(service);
/** What the receiver heard of `service`, in order: `firing:critical`, `resolved:warning`, … */
const heard = (service: string): string[] =>
  notifications(service).flatMap((body) => body.alerts.map((alert) => `${alert.status}:${alert.labels.severity}`));

it('takes a service from warning to critical to resolved, as Alertmanager holds it and tells its receiver', async () => {
  // Only the notifier's resend interval is on fake time. Date stays real, as Alertmanager
  // compares startsAt and endsAt with its own wall clock, and so do the manager's timeouts.
  jest.useFakeTimers({ doNotFake: ['Date', 'nextTick', 'setImmediate', 'queueMicrotask', 'setTimeout', 'clearTimeout'] });
  const clock = createTestClock();
  const { manager } = start({ clock, resendMs: 60_000 });
  const worker = manager.heartbeat({ tag: 'escalating' }).start();

  worker.error('disk nearly full');
  const [warning] = await until(
    () => ofService('escalating'),
    (alerts) => alerts.length === 1,
  );
  expect(warning).toMatchObject({
    labels: { alertname: ALERTMANAGER_STATUS_ALERT, service: 'escalating', severity: 'warning', instance: INSTANCE },
    annotations: { summary: 'escalating is warning', description: expect.stringContaining('disk nearly full') },
    generatorURL: `${PAGE}#escalating`,
    status: { state: 'active' },
  });
  // The horizon: 4 × resendMs ahead, so Alertmanager resolves it by itself if this process dies.
  expect(Date.parse(warning?.endsAt ?? '') - Date.now()).toBeGreaterThan(3 * 60_000);
  await until(
    () => heard('escalating'),
    (seen) => seen.includes('firing:warning'),
  );

  worker.error('disk full', { critical: true });
  const [critical] = await until(
    () => ofService('escalating'),
    (alerts) => alerts.length === 1 && alerts[0]?.labels.severity === 'critical',
  );
  // The same incident: it started with the warning.
  expect(critical?.startsAt).toBe(warning?.startsAt);
  expect(critical?.status.state).toBe('active');
  // One POST ended the warning as it started the critical: the receiver hears both in one notification.
  const escalation = await until(
    () => notifications('escalating'),
    (bodies) => bodies.some((body) => body.alerts.some((alert) => alert.labels.severity === 'critical')),
  );
  const firstCritical = escalation.find((body) => body.alerts.some((alert) => alert.labels.severity === 'critical'));
  expect(firstCritical?.alerts.map((alert) => `${alert.status}:${alert.labels.severity}`).sort()).toEqual([
    'firing:critical',
    'resolved:warning',
  ]);

  // The resend timer, on fake time: a minute later the alert is posted again, its horizon moved.
  const before = critical as GettableAlert;
  await realDelay(20); // so that the resend's updatedAt differs by a millisecond at least
  clock.advance(60_000);
  const [resent] = await until(
    () => ofService('escalating'),
    (alerts) => alerts[0]?.updatedAt !== before.updatedAt,
  );
  expect(Date.parse(resent?.endsAt ?? '')).toBeGreaterThan(Date.parse(before.endsAt));
  expect(resent?.labels.severity).toBe('critical');

  worker.pulse();
  await until(
    () => ofService('escalating'),
    (alerts) => alerts.length === 0,
  );
  await until(
    () => heard('escalating'),
    (seen) => seen.at(-1) === 'resolved:critical',
  );
  expect(notifications('escalating').at(-1)?.status).toBe('resolved');
}, 30_000);

it('keeps an alert active past its horizon by resending it, and close() stops that: Alertmanager then resolves it by itself', async () => {
  const resendMs = 250; // horizon: 1 s
  const { manager } = start({ resendMs });
  manager.heartbeat({ tag: 'resent' }).start().error('disk full', { critical: true });
  const [first] = await until(
    () => ofService('resent'),
    (alerts) => alerts.length === 1,
  );
  const horizon = Date.parse(first?.endsAt ?? '');
  // Active all along, until well past the first POST's endsAt.
  await until(
    async () => {
      expect(await ofService('resent')).toHaveLength(1);
      return Date.now();
    },
    (now) => now > horizon + 2 * resendMs,
    5000,
  );
  expect(heard('resent')).toEqual(['firing:critical']);

  const closedAt = Date.now();
  void manager.close();
  // Nothing re-sends it now: Alertmanager resolves it at its last endsAt, within one horizon.
  await until(
    () => ofService('resent'),
    (alerts) => alerts.length === 0,
    5000,
  );
  expect(Date.now() - closedAt).toBeLessThan(4 * resendMs + 2000);
  await until(
    () => heard('resent'),
    (seen) => seen.at(-1) === 'resolved:critical',
  );
}, 30_000);

it('after a restart, resends the alert of an incident restored from the store, then resolves it', async () => {
  const resendMs = 250;
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-alertmanager-e2e-'));
  dirs.push(dir);
  const first = start({ dir, resendMs });
  first.manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
  const [firing] = await until(
    () => ofService('save_worker'),
    (alerts) => alerts.length === 1,
  );
  // A clean stop closes the dispatcher: no resolved, no more resends.
  void first.manager.close();

  const second = start({ dir, resendMs });
  expect(second.manager.service('save_worker')?.status).toBe('critical');
  const horizon = Date.parse(firing?.endsAt ?? '');
  await until(
    async () => {
      const alerts = await ofService('save_worker');
      expect(alerts).toHaveLength(1);
      // The same incident, dated from its first alert before the restart.
      expect(alerts[0]?.startsAt).toBe(firing?.startsAt);
      return Date.now();
    },
    (now) => now > horizon + 2 * resendMs,
    5000,
  );
  expect(heard('save_worker')).toEqual(['firing:critical']);

  second.manager.heartbeat({ tag: 'save_worker' }).pulse();
  await until(
    () => ofService('save_worker'),
    (alerts) => alerts.length === 0,
  );
  await until(
    () => heard('save_worker'),
    (seen) => seen.at(-1) === 'resolved:critical',
  );
}, 30_000);
