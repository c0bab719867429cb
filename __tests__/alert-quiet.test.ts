import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { AlertLevel } from '../lib/alerts/alert';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager, type Heartbeat } from '../lib/core/manager';
import { fileStore } from '../lib/store';
import { createTestClock, type TestClock } from './helpers/clock';
import { startReceiver, type Receiver } from './helpers/receiver';

// Alerts that stay quiet (issue 17): paused services, maintenance windows and dependencies. A
// real webhook receiver on loopback counts exactly what was sent; the monitor runs on jest's
// fake timers through the test clock, and deliveries, real HTTP, are waited for in real time.

const SECOND = 1000;
/** A beat every 10 s misses its fifth (critical, `critical_after` 5) once 5 intervals and the 10% grace have passed. */
const CRITICAL_BY_MISSES_MS = 51 * SECOND + 1;

let clock: TestClock;
let manager: HeartbeatManager;
let dispatcher: AlertDispatcher;
let ops: Receiver;

beforeEach(async () => {
  ops = await startReceiver();
  // Promise jobs, nextTick and setImmediate stay real: fetch and the receiver run on them.
  jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
});
afterEach(async () => {
  void manager.close();
  jest.useRealTimers();
  await ops.close();
});

/** A manager with `config` and a dispatcher whose one target, the receiver, hears of `minLevel` and worse. */
function monitor(config: HeartbeatConfig, minLevel: AlertLevel = 'critical'): void {
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config } });
  dispatcher = new AlertDispatcher(manager, { targets: [{ url: ops.url, name: 'ops', minLevel }], registry: new Registry(), attempts: 1 });
}

/** Waits until every alert made so far was delivered: what the receiver holds then is all it gets. */
async function delivered(): Promise<void> {
  // Alerts are made and stamped in promise jobs, and leave their queue from one: let those run first.
  await new Promise((resolve) => setImmediate(resolve));
  for (let waited = 0; dispatcher.pending > 0; waited += 10) {
    if (waited > 10_000) throw new Error(`alerts still pending after 10 s: ${dispatcher.pending}`);
    await realDelay(10);
  }
}

/** Runs `work` with a fresh state directory, then closes the manager and removes the directory. */
async function inStateDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-alert-quiet-'));
  try {
    await work(dir);
  } finally {
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the receiver got, as `service:status`. */
const sent = (): string[] => ops.received.map(({ body }) => `${body.service}:${body.status}`);
const body = (index: number): Record<string, unknown> => ops.received[index]?.body as Record<string, unknown>;

/** Moves time on by `ms` in 5 s steps, pulsing `beating` at each, so they stay healthy meanwhile. */
function passWith(ms: number, ...beating: Heartbeat[]): void {
  for (let passed = 0; passed < ms; passed += 5 * SECOND) {
    clock.advance(Math.min(5 * SECOND, ms - passed));
    for (const heartbeat of beating) heartbeat.pulse();
  }
}

describe('a paused service', () => {
  it('sends nothing while it misses beats, and alerts normally once it had a fresh interval after resume()', async () => {
    monitor({ services: { save_worker: { interval: 10 } } });
    manager.heartbeat({ tag: 'save_worker' }).start();
    manager.pause('save_worker', { reason: 'deploy' });
    clock.advance(10 * 60 * SECOND);
    await delivered();
    expect(manager.service('save_worker')?.status).toBe('healthy');
    expect(sent()).toEqual([]);

    expect(manager.resume('save_worker')).toBe(true);
    // The fresh interval runs from the resume: nothing yet, even though the last pulse was ten minutes ago.
    clock.advance(CRITICAL_BY_MISSES_MS - 2);
    await delivered();
    expect(sent()).toEqual([]);
    clock.advance(2);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical']);
    expect(body(0)).toMatchObject({ previous: 'degraded', reason: 'missed 5 heartbeats' });
  });

  it('sends no resolved and no reminders while paused, and the resolved once its pause ends healthy', async () => {
    monitor({ repeat_every: 60, services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('disk full', { critical: true });
    await delivered();
    expect(sent()).toEqual(['save_worker:critical']);

    manager.pause('save_worker', { until: clock.wallNow() + 5 * 60 * SECOND });
    worker.pulse(); // healthy inside the pause: nothing said yet
    clock.advance(5 * 60 * SECOND - 1);
    await delivered();
    expect(manager.service('save_worker')?.paused).not.toBeNull();
    expect(sent()).toEqual(['save_worker:critical']);

    clock.advance(2); // until has passed (the monitor acts strictly past a deadline)
    await delivered();
    // Healthy at the end only because nothing is expected yet: the resolved waits for a pulse.
    expect(sent()).toEqual(['save_worker:critical']);
    passWith(15 * SECOND, worker);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical', 'save_worker:resolved']);
    expect(body(1)).toMatchObject({ previous: 'critical', reason: 'healthy after pause' });
  });

  it('never resolves a service that was dead before its pause and stays dead after it, nor alerts it twice', async () => {
    monitor({ services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    clock.advance(CRITICAL_BY_MISSES_MS);
    manager.pause('save_worker');
    clock.advance(60 * SECOND);
    manager.resume('save_worker');
    // The fresh interval, then missed beats up to critical again: nothing, as the targets know it is down.
    clock.advance(2 * CRITICAL_BY_MISSES_MS);
    await delivered();
    expect(manager.service('save_worker')?.status).toBe('critical');
    expect(sent()).toEqual(['save_worker:critical']);
    worker.pulse();
    clock.advance(1);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical', 'save_worker:resolved']);
  });

  it('names the pause in the resolved a resume() brings', async () => {
    monitor({ services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('disk full', { critical: true });
    manager.pause('save_worker', { reason: 'disk swap' });
    worker.pulse();
    clock.advance(1);
    manager.resume('save_worker');
    passWith(15 * SECOND, worker);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical', 'save_worker:resolved']);
    expect(body(1)).toMatchObject({ previous: 'critical', reason: 'healthy after pause' });
  });

  it('holds the reminders of a service paused while critical, and says nothing at the end if it is still as alerted', async () => {
    monitor({ repeat_every: 60, services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('disk full', { critical: true });
    clock.advance(61 * SECOND);
    await delivered();
    expect(ops.received.map(({ body: alert }) => alert.reminder as unknown)).toEqual([undefined, 1]);

    // A reported error outlasts the pause's start: the status stays critical, with no change to announce.
    manager.pause('save_worker', { reason: 'deploy' });
    clock.advance(5 * 60 * SECOND);
    await delivered();
    expect(manager.service('save_worker')?.status).toBe('critical');
    expect(ops.received).toHaveLength(2);

    manager.resume('save_worker');
    await delivered();
    expect(ops.received).toHaveLength(2);
    // Reminders go on from the resume.
    clock.advance(61 * SECOND);
    await delivered();
    expect(ops.received.map(({ body: alert }) => [alert.status, alert.reminder as unknown])).toEqual([
      ['critical', undefined],
      ['critical', 1],
      ['critical', 2],
    ]);
  });

  it('keeps an incident open across a restart while paused, and resolves it at the pause end', async () => {
    await inStateDir(async (dir) => {
      const config: HeartbeatConfig = { log_level: 'silent', services: { save_worker: { interval: 10 } } };
      const targets = [{ url: ops.url, name: 'ops', minLevel: 'critical' as const }];
      manager = new HeartbeatManager({ clock, config, store: fileStore({ dir }) });
      dispatcher = new AlertDispatcher(manager, { targets, registry: new Registry() });
      manager.heartbeat({ tag: 'save_worker' }).start();
      clock.advance(CRITICAL_BY_MISSES_MS);
      manager.pause('save_worker', { until: clock.wallNow() + 10 * 60 * SECOND, reason: 'disk swap' });
      await delivered();
      expect(sent()).toEqual(['save_worker:critical']);
      await manager.close();

      // The restarted manager has it paused, so healthy: that is no recovery to announce.
      manager = new HeartbeatManager({ clock, config, store: fileStore({ dir }) });
      dispatcher = new AlertDispatcher(manager, { targets, registry: new Registry() });
      expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: { reason: 'disk swap' } });
      const worker = manager.heartbeat({ tag: 'save_worker' }).start();
      passWith(10 * 60 * SECOND - 5 * SECOND, worker);
      await delivered();
      expect(sent()).toEqual(['save_worker:critical']);

      // The pause ends 5 s into these 20 s, and a pulse follows within its interval.
      passWith(20 * SECOND, worker);
      await delivered();
      expect(sent()).toEqual(['save_worker:critical', 'save_worker:resolved']);
      expect(body(1)).toMatchObject({ reason: 'healthy after pause' });
    });
  });

  it('waits for recover_after pulses before the resolved at a pause end, as for any recovery', async () => {
    monitor({ recover_after: 3, services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    clock.advance(CRITICAL_BY_MISSES_MS);
    manager.pause('save_worker');
    manager.resume('save_worker');
    // Healthy with a fresh interval, but no pulse yet: still dead, as its misses soon show.
    clock.advance(CRITICAL_BY_MISSES_MS);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical']);

    manager.pause('save_worker', { until: clock.wallNow() + SECOND });
    passWith(25 * SECOND, worker); // the pause ended after 1 s: three on-time pulses are due 30 s from there
    await delivered();
    expect(sent()).toEqual(['save_worker:critical']);
    passWith(10 * SECOND, worker);
    await delivered();
    expect(sent()).toEqual(['save_worker:critical', 'save_worker:resolved']);
    expect(body(1)).toMatchObject({ reason: 'healthy after pause' });
  });
});

describe('the end of a maintenance window', () => {
  it('says once what changed inside it: a recovery, a new failure; nothing for a service as it was', async () => {
    const startsIn = 70 * SECOND;
    const endsIn = 130 * SECOND;
    monitor({
      services: { recovers: { interval: 10 }, fails_inside: { interval: 10 }, still_down: { interval: 10 }, steady: { interval: 10 } },
      maintenance: [
        {
          services: ['recovers', 'fails_inside', 'still_down', 'steady'],
          start: new Date(clock.wallNow() + startsIn).toISOString(),
          end: new Date(clock.wallNow() + endsIn).toISOString(),
        },
      ],
    });
    const recovers = manager.heartbeat({ tag: 'recovers' }).start();
    const failsInside = manager.heartbeat({ tag: 'fails_inside' }).start();
    const stillDown = manager.heartbeat({ tag: 'still_down' }).start();
    const steady = manager.heartbeat({ tag: 'steady' }).start();
    stillDown.error('kernel panic', { critical: true });
    // `recovers` misses its beats until critical; the others pulse.
    passWith(startsIn - 5 * SECOND, failsInside, steady);
    await delivered();
    expect(sent()).toEqual(['still_down:critical', 'recovers:critical']);

    passWith(10 * SECOND, failsInside, steady); // the window opens: no alert
    expect(manager.service('recovers')?.paused).toMatchObject({ reason: 'maintenance' });
    recovers.pulse();
    failsInside.error('migration failed', { critical: true });
    passWith(endsIn - startsIn - 10 * SECOND, recovers, steady);
    await delivered();
    expect(sent()).toEqual(['still_down:critical', 'recovers:critical']);

    passWith(6 * SECOND, recovers, steady); // the window has closed: the new failure is said at once
    await delivered();
    expect(manager.service('recovers')?.paused).toBeNull();
    expect(sent().slice(2)).toEqual(['fails_inside:critical']);
    passWith(10 * SECOND, recovers, steady); // and the recovery once a pulse since the end shows it
    await delivered();
    expect(sent().slice(2).sort()).toEqual(['fails_inside:critical', 'recovers:resolved']);
    const failed = ops.received.find(({ body: alert }) => alert.service === 'fails_inside')?.body as Record<string, unknown>;
    expect(failed).toMatchObject({ previous: 'healthy', reason: 'still critical after maintenance: critical error: migration failed' });
    const resolved = ops.received.find(({ body: alert }) => alert.status === 'resolved')?.body as Record<string, unknown>;
    expect(resolved).toMatchObject({ service: 'recovers', previous: 'critical', reason: 'healthy after maintenance' });

    // And nothing later: each was said once.
    passWith(30 * SECOND, recovers, steady);
    await delivered();
    expect(sent()).toHaveLength(4);
  });
});

describe('dependencies', () => {
  const SERVICES = { web_listener: { interval: 10 }, web_listener_check: { interval: 10, depends_on: ['web_listener'] } };

  it('alerts one outage once, then the dependent on its own if it stays down, then each recovery', async () => {
    monitor({ services: SERVICES });
    const listener = manager.heartbeat({ tag: 'web_listener' }).start();
    const check = manager.heartbeat({ tag: 'web_listener_check' }).start();
    clock.advance(CRITICAL_BY_MISSES_MS); // both go down together
    await delivered();
    expect(manager.service('web_listener_check')).toMatchObject({ status: 'critical', suppressed_by: 'web_listener' });
    expect(sent()).toEqual(['web_listener:critical']);
    expect(body(0)).toMatchObject({ affected: ['web_listener_check'] });

    listener.pulse();
    clock.advance(1);
    await delivered();
    expect(sent()).toEqual(['web_listener:critical', 'web_listener:resolved', 'web_listener_check:critical']);
    expect(body(2)).toMatchObject({ reason: 'still critical after web_listener recovered: missed 5 heartbeats' });
    expect(body(2)).not.toHaveProperty('affected'); // nothing depends on the check
    expect(body(1)).not.toHaveProperty('affected'); // a resolved lists nobody

    listener.pulse();
    check.pulse();
    clock.advance(1);
    await delivered();
    expect(sent()).toEqual([
      'web_listener:critical',
      'web_listener:resolved',
      'web_listener_check:critical',
      'web_listener_check:resolved',
    ]);
  });

  it('never holds a recovery: a dependent alerted before its dependency went down still gets its resolved', async () => {
    monitor({ services: SERVICES });
    const listener = manager.heartbeat({ tag: 'web_listener' }).start();
    const check = manager.heartbeat({ tag: 'web_listener_check' }).start();
    check.error('probe timed out', { critical: true });
    await delivered();
    listener.error('port in use', { critical: true });
    await delivered();
    expect(sent()).toEqual(['web_listener_check:critical', 'web_listener:critical']);

    check.pulse();
    clock.advance(1);
    await delivered();
    // Its dependency is still down, and would hold a bad status of the check.
    expect(manager.service('web_listener_check')).toMatchObject({ status: 'healthy', suppressed_by: 'web_listener' });
    expect(sent()).toEqual(['web_listener_check:critical', 'web_listener:critical', 'web_listener_check:resolved']);
  });

  it('keeps holding a dependent while another of its dependencies is still down', async () => {
    monitor({
      services: { db: { interval: 10 }, cache: { interval: 10 }, api: { interval: 10, depends_on: ['db', 'cache'] } },
    });
    const db = manager.heartbeat({ tag: 'db' }).start();
    const cache = manager.heartbeat({ tag: 'cache' }).start();
    const api = manager.heartbeat({ tag: 'api' }).start();
    db.error('disk full', { critical: true });
    cache.error('evicted', { critical: true });
    api.error('no backend', { critical: true });
    await delivered();
    expect(sent()).toEqual(['db:critical', 'cache:critical']);
    expect(body(0)).toMatchObject({ affected: ['api'] });

    db.pulse();
    clock.advance(1);
    await delivered();
    expect(manager.service('api')?.suppressed_by).toBe('cache');
    expect(sent()).toEqual(['db:critical', 'cache:critical', 'db:resolved']);

    cache.pulse();
    clock.advance(1);
    await delivered();
    expect(sent()).toEqual(['db:critical', 'cache:critical', 'db:resolved', 'cache:resolved', 'api:critical']);
    expect(body(4)).toMatchObject({ reason: 'still critical after cache recovered: critical error: no backend' });
  });

  it('alerts a dependent that changes in the same turn as its dependency recovers once, for its own change', async () => {
    monitor({ services: SERVICES }, 'warning');
    const listener = manager.heartbeat({ tag: 'web_listener' }).start();
    const check = manager.heartbeat({ tag: 'web_listener_check' }).start();
    listener.error('port in use', { critical: true });
    check.error('probe timed out'); // warning, held
    await delivered();
    expect(sent()).toEqual(['web_listener:critical']);

    // The listener's pulse clears its error at once (its recovery is announced on the next timer
    // turn), so the check's change finds nothing holding it: alerted then, and not again.
    listener.pulse();
    check.error('probe refused', { critical: true });
    clock.advance(1);
    await delivered();
    expect(sent()).toEqual(['web_listener:critical', 'web_listener_check:critical', 'web_listener:resolved']);
    expect(body(1)).toMatchObject({ previous: 'warning', reason: 'critical error: probe refused' });
  });

  it('still alerts a held dependent once its dependency recovers after a restart', async () => {
    await inStateDir(async (dir) => {
      const config: HeartbeatConfig = { log_level: 'silent', services: SERVICES };
      manager = new HeartbeatManager({ clock, config, store: fileStore({ dir }) });
      dispatcher = new AlertDispatcher(manager, {
        targets: [{ url: ops.url, name: 'ops', minLevel: 'critical' }],
        registry: new Registry(),
      });
      manager.heartbeat({ tag: 'web_listener' }).start();
      manager.heartbeat({ tag: 'web_listener_check' }).start();
      clock.advance(CRITICAL_BY_MISSES_MS);
      await delivered();
      expect(sent()).toEqual(['web_listener:critical']);
      await manager.close();

      manager = new HeartbeatManager({ clock, config, store: fileStore({ dir }) });
      dispatcher = new AlertDispatcher(manager, {
        targets: [{ url: ops.url, name: 'ops', minLevel: 'critical' }],
        registry: new Registry(),
      });
      expect(manager.service('web_listener_check')).toMatchObject({ status: 'critical', suppressed_by: 'web_listener' });
      manager.heartbeat({ tag: 'web_listener' }).start(); // back, alone
      clock.advance(1);
      await delivered();
      expect(sent()).toEqual(['web_listener:critical', 'web_listener:resolved', 'web_listener_check:critical']);
      expect(body(2)).toMatchObject({ reason: 'still critical after web_listener recovered: missed 5 heartbeats' });
    });
  });

  it('lists the dependents of a dependency transitively, in the config order', async () => {
    monitor({
      services: {
        web_listener: { interval: 10 },
        web_listener_check: { interval: 10, depends_on: ['web_listener'] },
        status_probe: { interval: 10, depends_on: ['web_listener_check'] },
      },
    });
    manager.heartbeat({ tag: 'web_listener' }).start().error('port in use', { critical: true });
    await delivered();
    expect(body(0)).toMatchObject({ service: 'web_listener', affected: ['web_listener_check', 'status_probe'] });
  });
});

describe('job runtimes', () => {
  it('alert with alert_on_miss: false, which silences missed beats only', async () => {
    monitor(
      { alert_on_miss: false, services: { router_tasks: { interval: 3600, max_runtime: 10 }, save_worker: { interval: 10 } } },
      'warning',
    );
    manager.heartbeat({ tag: 'save_worker' }).start();
    manager.heartbeat({ tag: 'router_tasks' }).begin();
    clock.advance(35 * SECOND);
    await delivered();
    expect(manager.service('save_worker')?.status).toBe('degraded'); // three missed beats: silent
    expect(sent()).toEqual(['router_tasks:warning', 'router_tasks:critical']);
    expect(body(0)).toMatchObject({ reason: 'run exceeded max_runtime (10s)' });
    expect(body(1)).toMatchObject({ reason: 'run exceeded twice max_runtime (20s)' });
  });
});

describe('found by review', () => {
  const DEPENDENCY = { web_listener: { interval: 10 }, web_listener_check: { interval: 10, depends_on: ['web_listener'] } };

  it('D7: reminders of an alerted dependent go on from its pause end though its dependency is down (as they do without the pause)', async () => {
    monitor({ repeat_every: 60, services: DEPENDENCY });
    const listener = manager.heartbeat({ tag: 'web_listener' }).start();
    const check = manager.heartbeat({ tag: 'web_listener_check' }).start();
    check.error('probe failed', { critical: true });
    await delivered();
    listener.error('port in use', { critical: true });
    await delivered();
    expect(sent()).toEqual(['web_listener_check:critical', 'web_listener:critical']);
    // Without a pause, the check's reminders go on while the listener is down:
    clock.advance(61 * SECOND);
    await delivered();
    const before = ops.received.filter((r) => r.body.service === 'web_listener_check').length;
    expect(before).toBe(2);
    manager.pause('web_listener_check', { reason: 'deploy' });
    clock.advance(SECOND);
    manager.resume('web_listener_check');
    expect(manager.service('web_listener_check')).toMatchObject({ status: 'critical', suppressed_by: 'web_listener' });
    clock.advance(5 * 61 * SECOND);
    await delivered();
    const reminders = ops.received.filter((r) => r.body.service === 'web_listener_check').map((r) => r.body.reminder);
    expect(reminders.length).toBeGreaterThan(2);
  });

  async function restartWith(dir: string, config: HeartbeatConfig): Promise<void> {
    await manager.close();
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config }, store: fileStore({ dir }) });
    dispatcher = new AlertDispatcher(manager, {
      targets: [{ url: ops.url, name: 'ops', minLevel: 'critical' }],
      registry: new Registry(),
      attempts: 1,
    });
  }

  it.each([
    ['recovers', true],
    ['stays dead', false],
  ])('R1: an unconfigured in-process service paused with an open incident across a restart (%s)', async (_label, pulses) => {
    await inStateDir(async (dir) => {
      const config: HeartbeatConfig = { log_level: 'silent' };
      manager = new HeartbeatManager({ clock, config, store: fileStore({ dir }) });
      dispatcher = new AlertDispatcher(manager, {
        targets: [{ url: ops.url, name: 'ops', minLevel: 'critical' }],
        registry: new Registry(),
        attempts: 1,
      });
      manager.heartbeat({ tag: 'w', interval: 10 }).start();
      clock.advance(CRITICAL_BY_MISSES_MS);
      manager.pause('w', { until: clock.wallNow() + 120 * SECOND, reason: 'swap' });
      await delivered();
      expect(sent()).toEqual(['w:critical']);
      await restartWith(dir, config);
      clock.advance(SECOND);
      const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
      if (pulses) passWith(150 * SECOND, worker);
      else clock.advance(150 * SECOND);
      await delivered();
      if (pulses) expect(sent()).toEqual(['w:critical', 'w:resolved']);
      else expect(sent()).toEqual(['w:critical']);
      if (!pulses) {
        worker.pulse();
        clock.advance(11 * SECOND);
        await delivered();
        expect(sent()).toEqual(['w:critical', 'w:resolved']);
      }
    });
  });

  it('a paused middle service does not release a dependent that is still held by a deeper dependency that is down', async () => {
    monitor({
      services: {
        db: { interval: 10 },
        api: { interval: 10, depends_on: ['db'] },
        web: { interval: 10, depends_on: ['api'] },
      },
    });
    const db = manager.heartbeat({ tag: 'db' }).start();
    const api = manager.heartbeat({ tag: 'api' }).start();
    const web = manager.heartbeat({ tag: 'web' }).start();
    db.error('disk full', { critical: true });
    api.error('no db', { critical: true });
    web.error('no api', { critical: true });
    await delivered();
    expect(sent()).toEqual(['db:critical']);
    manager.pause('api', { reason: 'deploy' });
    await delivered();
    // web depends on db through api, and db is still down (docs/alerts.md: "directly or through others").
    expect(sent()).toEqual(['db:critical']);
  });
});
