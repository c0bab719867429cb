import { AlertDispatcher } from '../lib/alerts/dispatcher';
import type { Alert, Notifier } from '../lib/alerts/alert';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import { Gauge, Registry } from 'prom-client';
import { createTestClock, type TestClock } from './helpers/clock';

/** A notifier that keeps what it is sent: the policy is under test here, not the transport. */
function inbox(name = 'inbox'): Notifier & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    name,
    alerts,
    send: (alert) => {
      alerts.push(alert);
      return Promise.resolve();
    },
  };
}

let clock: TestClock;
let manager: HeartbeatManager;

function setup(config: HeartbeatConfig = {}, minLevels: Array<'warning' | 'degraded' | 'critical'> = ['warning']) {
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config } });
  const inboxes = minLevels.map((level) => inbox(`inbox-${level}`));
  const dispatcher = new AlertDispatcher(manager, {
    targets: inboxes.map((notifier, index) => ({ notifier, minLevel: minLevels[index] })),
    registry: new Registry(),
  });
  return { inboxes, dispatcher };
}

/** Lets queued deliveries run: they are promise chains, not timers (setImmediate is real here). */
const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};
const summary = (alerts: Alert[]) => alerts.map((a) => `${a.service}:${a.status}`);

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => {
  void manager.close();
  jest.useRealTimers();
});

it('sends one alert per transition, then a resolved one with the time down', async () => {
  const { inboxes } = setup();
  const worker = manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
  clock.advance(60_000); // warning, degraded, critical
  // The alerts of one turn share a reading of the overall status, taken as the turn ends.
  await flush();
  worker.pulse();
  clock.advance(1);
  await flush();
  const alerts = inboxes[0]?.alerts ?? [];
  expect(summary(alerts)).toEqual(['save_worker:warning', 'save_worker:degraded', 'save_worker:critical', 'save_worker:resolved']);
  expect(alerts[2]).toMatchObject({ previous: 'degraded', reason: 'missed 5 heartbeats', overall_status: 'critical' });
  expect(alerts[3]).toMatchObject({ previous: 'critical', overall_status: 'healthy', down_seconds: 49 });
  expect(new Set(alerts.map((a) => a.id)).size).toBe(4);
});

it('alerts each target at or above its minimum level only', async () => {
  const { inboxes } = setup({}, ['warning', 'critical']);
  const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
  worker.error('disk full');
  worker.pulse();
  clock.advance(1);
  worker.error('kernel panic', { critical: true });
  worker.pulse();
  clock.advance(1);
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:warning', 'w:resolved', 'w:critical', 'w:resolved']);
  // The critical-only target never heard of the warning, so it gets no resolved for it either.
  expect(summary(inboxes[1]?.alerts ?? [])).toEqual(['w:critical', 'w:resolved']);
});

it('ignores missed beats with alert_on_miss: false, but not reported errors', async () => {
  const { inboxes } = setup({ alert_on_miss: false });
  const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
  clock.advance(60_000);
  worker.pulse();
  clock.advance(1);
  worker.error('boom');
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:warning']);
  expect(inboxes[0]?.alerts[0]?.reason).toBe('error: boom');
});

it('reports a flapping service once, holds it, and reports it again once calm', async () => {
  const { inboxes } = setup({ flap_threshold: 4, flap_window: 60 });
  const worker = manager.heartbeat({ tag: 'w', interval: 3600 }).start();
  for (let i = 0; i < 10; i++) {
    worker.error(`glitch ${i}`);
    worker.pulse();
    clock.advance(1000);
  }
  await flush();
  // Changes 1-4 alert normally (two incidents); the fifth makes it flapping; the rest are held.
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:warning', 'w:resolved', 'w:warning', 'w:resolved', 'w:flapping']);
  expect(inboxes[0]?.alerts[4]?.reason).toBe('changed status 5 times within 60 s; alerts are held until it is calm for 60 s');
  worker.error('stuck');
  clock.advance(61_000);
  worker.pulse();
  clock.advance(1);
  await flush();
  expect(summary(inboxes[0]?.alerts ?? []).slice(5)).toEqual(['w:warning', 'w:resolved']);
  expect(inboxes[0]?.alerts[5]?.reason).toBe('calm again after flapping, now warning');
});

it('announces a recovery only after recover_after on-time pulses', async () => {
  const { inboxes } = setup({ recover_after: 3 });
  const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
  worker.error('boom', { critical: true });
  worker.pulse();
  clock.advance(1);
  clock.advance(10_000);
  worker.pulse();
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:critical']);
  // It fails again before the recovery was confirmed: no resolved, and no repeat of the same level.
  worker.error('boom again', { critical: true });
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:critical']);
  worker.pulse();
  for (let i = 0; i < 3; i++) {
    clock.advance(10_000);
    worker.pulse();
  }
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:critical', 'w:resolved']);
});

it('sends reminders while a service stays critical, only when asked', async () => {
  const { inboxes } = setup({ repeat_every: 60 });
  const worker = manager.heartbeat({ tag: 'w', interval: 3600 }).start();
  worker.error('down', { critical: true });
  clock.advance(150_000);
  await flush();
  const alerts = inboxes[0]?.alerts ?? [];
  expect(alerts.map((a) => [a.status, a.reminder])).toEqual([
    ['critical', undefined],
    ['critical', 1],
    ['critical', 2],
  ]);
  worker.pulse();
  clock.advance(120_000);
  await flush();
  expect(summary(inboxes[0]?.alerts ?? []).slice(3)).toEqual(['w:resolved']);
});

it('sends nothing while the manager shuts down, and a restart sends no recovery', async () => {
  const { inboxes } = setup({ services: { save_worker: { interval: 1 } } });
  manager.heartbeat({ tag: 'save_worker' }).start();
  void manager.close();
  clock.advance(60_000);
  await flush();
  expect(inboxes[0]?.alerts).toEqual([]);

  // The next process: the service was never reported down, so its healthy start says nothing.
  const again = setup({ services: { save_worker: { interval: 1 } } });
  manager.heartbeat({ tag: 'save_worker' }).start().pulse();
  clock.advance(500);
  await flush();
  expect(again.inboxes[0]?.alerts).toEqual([]);
});

it('survives a notifier that throws or rejects, and counts the failure', async () => {
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const registry = new Registry();
  const throwing: Notifier = {
    name: 'thrower',
    send: () => {
      throw new Error('sync bug');
    },
  };
  const rejecting: Notifier = { name: 'rejecter', send: () => Promise.reject(Object.assign(new Error('nope'), { retryable: false })) };
  new AlertDispatcher(manager, { targets: [{ notifier: throwing }, { notifier: rejecting }], registry, attempts: 2, backoffMs: 10 });
  manager.heartbeat({ tag: 'w', interval: 10 }).error('boom');
  await flush();
  clock.advance(10);
  await flush();
  const metrics = await registry.metrics();
  expect(metrics).toContain('heartbeat_alerts_failed_total{target="thrower"} 1');
  expect(metrics).toContain('heartbeat_alerts_failed_total{target="rejecter"} 1');
});

it('rejects bad options with clear errors', () => {
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  expect(() => new AlertDispatcher(manager, {} as never)).toThrow('"targets" is undefined; expected an array');
  expect(() => new AlertDispatcher(manager, { targets: [{ url: 'ftp://x/secret' }] })).toThrow(
    'is not an http(s) URL (the value is not shown',
  );
  expect(() => new AlertDispatcher(manager, { targets: [{ url: 'not a url SECRET' }] })).not.toThrow(/SECRET/);
  expect(() => new AlertDispatcher(manager, { targets: [{ notifier: { name: 'x' } as never }] })).toThrow('"targets[0].notifier"');
  expect(() => new AlertDispatcher(manager, { targets: [], attempts: 0 })).toThrow('"attempts" is 0');
  expect(() => new AlertDispatcher(manager, { targets: [{ url: 'http://x', minLevel: 'info' as never }] })).toThrow(
    '"targets[0].minLevel"',
  );
});

it("names the way out when the registry has another metric by an alert counter's name", () => {
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const registry = new Registry();
  new Gauge({ name: 'heartbeat_alerts_sent_total', help: "the app's own", registers: [registry] });
  expect(() => new AlertDispatcher(manager, { targets: [], registry })).toThrow(
    'the registry already has a metric named heartbeat_alerts_sent_total that is not an alert counter; pass AlertDispatcher({ registry }) a registry of its own',
  );
});

it('counts recover_after in pulses, not in time, whatever the grace', async () => {
  const { inboxes } = setup({ recover_after: 2 });
  // A grace as long as the interval, as dependency checks have: silence alone proves nothing.
  const worker = manager.heartbeat({ tag: 'w', interval: 10, grace: 10 }).start();
  worker.error('down', { critical: true });
  worker.pulse();
  clock.advance(1);
  clock.advance(15_000); // still healthy thanks to the grace, but no second pulse yet
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:critical']);
  worker.pulse();
  clock.advance(2000);
  await flush();
  expect(summary(inboxes[0]?.alerts ?? [])).toEqual(['w:critical', 'w:resolved']);
});

describe('duration options', () => {
  const MAX = 2_147_483_647;
  const bad: Array<[string, unknown, string]> = [
    // AbortSignal.timeout() threw on these at the first alert, an unhandled rejection.
    ['timeoutMs', 2500.5, '2500.5'],
    ['timeoutMs', 5e9, '5000000000'],
    // Node's timers fire after 1 ms past the longest they wait.
    ['timeoutMs', MAX + 1, '2147483648'],
    ['timeoutMs', 0, '0'],
    ['timeoutMs', -1, '-1'],
    ['timeoutMs', Number.NaN, 'NaN'],
    ['timeoutMs', Infinity, 'Infinity'],
    ['timeoutMs', '30', '"30"'],
    ['timeoutMs', null, 'null'],
    ['timeoutMs', {}, 'an object'],
    ['backoffMs', 0.5, '0.5'],
    ['backoffMs', MAX + 1, '2147483648'],
    ['backoffMs', -1, '-1'],
    ['backoffMs', '1000', '"1000"'],
  ];

  it.each(bad)('refuses %s: %p, naming it, the value and the fix', (key, value, shown) => {
    clock = createTestClock();
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    const min = key === 'timeoutMs' ? 1 : 0;
    const example = key === 'timeoutMs' ? 5000 : 1000;
    expect(() => new AlertDispatcher(manager, { targets: [], [key]: value })).toThrow(
      `Invalid AlertDispatcher options: "${key}" is ${shown}; expected a whole number of milliseconds from ${min} to ${MAX} (the longest a Node timer waits), e.g. ${example}.`,
    );
  });

  it('accepts both edges, and waits the longest one out', async () => {
    clock = createTestClock();
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    for (const options of [{ timeoutMs: 1 }, { timeoutMs: MAX }, { backoffMs: 0 }, { backoffMs: MAX }]) {
      expect(() => new AlertDispatcher(manager, { targets: [], registry: new Registry(), ...options })).not.toThrow();
    }
    const registry = new Registry();
    const silent: Notifier = { name: 'silent', send: () => new Promise(() => undefined) };
    new AlertDispatcher(manager, { targets: [{ notifier: silent }], registry, timeoutMs: MAX, attempts: 1 });
    manager.heartbeat({ tag: 'w', interval: 10 }).error('boom');
    await flush();
    clock.advance(1000);
    await flush();
    expect(await registry.metrics()).toContain('heartbeat_alerts_failed_total{target="silent"} 0');
    clock.advance(MAX);
    await flush();
    expect(await registry.metrics()).toContain('heartbeat_alerts_failed_total{target="silent"} 1');
  });

  it('caps the doubling backoff at the longest timer', async () => {
    clock = createTestClock();
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    let attempts = 0;
    const failing: Notifier = {
      name: 'failing',
      send: () => {
        attempts++;
        return Promise.reject(new Error('503'));
      },
    };
    new AlertDispatcher(manager, { targets: [{ notifier: failing }], registry: new Registry(), attempts: 3, backoffMs: 2 ** 30 });
    // An interval longer than the test's weeks, so the one alert is the only one.
    manager.heartbeat({ tag: 'w', interval: 10_000_000 }).error('boom');
    await flush();
    clock.advance(2 ** 30);
    await flush();
    expect(attempts).toBe(2);
    // The next wait would be 2^31 ms, past the longest timer: it would fire after 1 ms.
    clock.advance(1000);
    await flush();
    expect(attempts).toBe(2);
    clock.advance(MAX);
    await flush();
    expect(attempts).toBe(3);
  });
});
