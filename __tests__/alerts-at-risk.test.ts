import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AlertDispatcher, type AlertTarget } from '../lib/alerts/dispatcher';
import { readSavedIncident } from '../lib/alerts/saved-incidents';
import { describeAlert } from '../lib/alerts/targets/alert-words';
import { ntfyNotifier } from '../lib/alerts/targets/ntfy';
import { ALERTMANAGER_AT_RISK_ALERT, ALERTMANAGER_STATUS_ALERT, alertmanagerNotifier } from '../lib/alerts/targets/alertmanager';
import type { Alert } from '../lib/alerts/alert';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager, type Heartbeat } from '../lib/core/manager';
import type { HeartbeatStore } from '../lib/core/store';
import { TREND_CHECK_MS } from '../lib/core/trend-watch';
import { fileStore } from '../lib/store';
import { useAlertmanagerWithHook, type GettableAlert } from './helpers/alertmanager';
import { createTestClock, type TestClock } from './helpers/clock';
import { startReceiver, type Receiver } from './helpers/receiver';
import { DRIFT_INTERVAL, driftingGaps, steadyGaps } from './helpers/drift';
import { ReplicaHub } from './helpers/replica-hub';

// The optional `at_risk` alert level (issue 20): a target whose minLevel is at_risk hears when
// a healthy service's pulses drift toward a miss; every other target hears what it did before.
// Real webhook receivers on loopback; the monitor on jest's fake timers through the test clock.

const SECOND = 1000;
const DRIFT = driftingGaps();
/** Ten steady gaps: the risk is gone. */
const STEADY = steadyGaps(10);

let clock: TestClock;
let manager: HeartbeatManager;
let dispatcher: AlertDispatcher;
let risk: Receiver;
let ops: Receiver;
/** Every dispatcher `monitor()` made (a restart, replicas: more than one), each closed with its manager after the test. */
const monitors: Array<{ manager: HeartbeatManager; dispatcher: AlertDispatcher }> = [];

beforeEach(async () => {
  [risk, ops] = await Promise.all([startReceiver('/risk'), startReceiver('/ops')]);
  // Promise jobs, nextTick and setImmediate stay real: fetch and the receivers run on them.
  jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
});
afterEach(async () => {
  dispatcher.close();
  void manager.close();
  for (const opened of monitors.splice(0)) {
    opened.dispatcher.close();
    void opened.manager.close();
  }
  jest.useRealTimers();
  await Promise.all([risk.close(), ops.close()]);
});

/** A manager with `config` (and `store`) and a dispatcher: `risk` hears at_risk and worse, `ops` the default (warning and worse). */
function monitor(config: HeartbeatConfig = {}, targets?: AlertTarget[], store?: HeartbeatStore): void {
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config }, ...(store ? { store } : {}) });
  dispatcher = new AlertDispatcher(manager, {
    targets: targets ?? [
      { url: risk.url, name: 'risk', minLevel: 'at_risk' },
      { url: ops.url, name: 'ops' },
    ],
    registry: new Registry(),
    attempts: 1,
  });
  monitors.push({ manager, dispatcher });
}

/** Waits until every alert made so far was delivered: what the receivers hold then is all they get. */
async function delivered(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const pending = (): number => monitors.reduce((sum, opened) => sum + opened.dispatcher.pending, dispatcher.pending);
  for (let waited = 0; pending() > 0; waited += 10) {
    if (waited > 10_000) throw new Error(`alerts still pending after 10 s: ${pending()}`);
    await realDelay(10);
  }
}

const bodies = (receiver: Receiver): Alert[] => receiver.received.map(({ body }) => body as Alert);
const sent = (receiver: Receiver): string[] => bodies(receiver).map((alert) => `${alert.service}:${alert.status}`);
const wallIso = (): string => new Date(clock.wallNow()).toISOString();

/** Pulses `worker` after each of `gaps` (seconds); returns the wall time of the pulse that first made it at risk, if one did. */
function pulseAfter(worker: Heartbeat, gaps: readonly number[]): string | null {
  let flagged: string | null = null;
  for (const gap of gaps) {
    clock.advance(gap * SECOND);
    worker.pulse();
    if (flagged === null && manager.service(worker.tag)?.trend.at_risk === true) flagged = wallIso();
  }
  return flagged;
}

/** A worker of `INTERVAL` seconds, started and pulsed once. */
function worker(tag = 'save_worker'): Heartbeat {
  const heartbeat = manager.heartbeat({ tag, interval: DRIFT_INTERVAL }).start();
  heartbeat.pulse();
  return heartbeat;
}

describe('a target whose minLevel is at_risk', () => {
  it('hears at_risk as a healthy service drifts, and resolved once the risk is gone; the default target hears nothing', async () => {
    monitor();
    const saveWorker = worker();
    const flaggedAt = pulseAfter(saveWorker, DRIFT);
    expect(flaggedAt).not.toBeNull();
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    const reason = manager.service('save_worker')?.trend.reason;
    expect(reason).toMatch(/^gaps growing 1\.5 s per beat: a miss expected in about \d+ s$/);
    expect(bodies(risk)).toEqual([
      {
        id: expect.any(String),
        service: 'save_worker',
        status: 'at_risk',
        previous: 'healthy',
        time: flaggedAt,
        reason,
        overall_status: 'healthy',
      },
    ]);
    // Its status never changed: an early signal beside it.
    expect(manager.service('save_worker')?.status).toBe('healthy');

    let clearedAt = '';
    for (const gap of STEADY) {
      pulseAfter(saveWorker, [gap]);
      if (clearedAt === '' && manager.service('save_worker')?.trend.at_risk === false) clearedAt = wallIso();
    }
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
    const resolved = bodies(risk)[1];
    expect(resolved).toEqual({
      id: expect.any(String),
      service: 'save_worker',
      status: 'resolved',
      // The incident never went past at_risk: the service was healthy throughout.
      previous: 'at_risk',
      time: clearedAt,
      reason: 'no longer at risk: steady',
      overall_status: 'healthy',
      down_seconds: expect.any(Number),
    });
    // The time at risk: from the at_risk alert (at most a check after its pulse) to the clearing pulse's check.
    const clearedAfter = (Date.parse(clearedAt) - Date.parse(flaggedAt as string)) / SECOND;
    expect(resolved?.down_seconds).toBeGreaterThanOrEqual(Math.floor(clearedAfter - 1));
    expect(resolved?.down_seconds).toBeLessThanOrEqual(Math.ceil(clearedAfter + 1));
    expect(ops.received).toEqual([]);
  });

  it('escalates the same incident when the service then misses: at_risk, warning, resolved', async () => {
    monitor();
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    // No pulse: the next beat is missed 33 s after the last one.
    clock.advance(33 * SECOND);
    expect(manager.service('save_worker')?.status).toBe('warning');
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:warning']);
    expect(bodies(risk)[1]).toMatchObject({ status: 'warning', previous: 'healthy', reason: 'missed 1 heartbeat' });
    expect(sent(ops)).toEqual(['save_worker:warning']);

    // Back: recover_after is 1, so this pulse resolves the incident, for both targets (the change is reported on the next timer turn).
    saveWorker.pulse();
    clock.advance(1);
    await delivered();
    const riskResolved = bodies(risk)[2];
    const opsResolved = bodies(ops)[1];
    expect(riskResolved).toMatchObject({ status: 'resolved', previous: 'warning' });
    expect(opsResolved).toMatchObject({ status: 'resolved', previous: 'warning' });
    // One incident for the at_risk target: its time down counts from its first alert, the at_risk one.
    expect(riskResolved?.down_seconds).toBeGreaterThan(opsResolved?.down_seconds as number);
    expect(sent(ops)).toEqual(['save_worker:warning', 'save_worker:resolved']);
    // Healthy again, but its gaps still drift: the at_risk target hears so at once, a new incident.
    expect(manager.service('save_worker')?.trend.at_risk).toBe(true);
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:warning', 'save_worker:resolved', 'save_worker:at_risk']);
    expect(bodies(risk)[3]).toMatchObject({ previous: 'healthy', reason: manager.service('save_worker')?.trend.reason });

    pulseAfter(saveWorker, STEADY);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk).slice(4)).toEqual(['save_worker:resolved']);
    expect(bodies(risk)[4]).toMatchObject({ previous: 'at_risk', reason: 'no longer at risk: steady' });
    expect(sent(ops)).toEqual(['save_worker:warning', 'save_worker:resolved']);
  });

  it('sends nothing when the service turns at risk while its incident is open, and resolves it once', async () => {
    // Four on-time pulses announce a recovery: the service is healthy meanwhile, its incident still open.
    monitor({ recover_after: 4 });
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT.slice(0, 27));
    // The last drifting gap is a miss: warning 33 s after the pulse, then the late pulse at 34 s.
    clock.advance(34 * SECOND);
    expect(manager.service('save_worker')?.status).toBe('warning');
    saveWorker.pulse();
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')?.trend.at_risk).toBe(true);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:warning']);

    // Steady pulses: the risk is gone before the recovery is announced, which says it all.
    pulseAfter(saveWorker, [20, 20, 20]);
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')?.trend.at_risk).toBe(false);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:warning']);
    pulseAfter(saveWorker, [20, 20]);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:warning', 'save_worker:resolved']);
    expect(bodies(risk)[1]).toMatchObject({ previous: 'warning' });
    expect(sent(ops)).toEqual(['save_worker:warning', 'save_worker:resolved']);
  });

  it('holds at_risk while a dependency is down, and says it once that dependency recovers', async () => {
    monitor({ services: { db: { interval: 60 }, save_worker: { interval: DRIFT_INTERVAL, depends_on: ['db'] } } });
    const db = manager.heartbeat({ tag: 'db' }).start();
    const saveWorker = worker();
    for (const gap of DRIFT.slice(0, 27)) {
      clock.advance(gap * SECOND);
      db.pulse();
      saveWorker.pulse();
    }
    db.error('connection refused', { critical: true });
    expect(manager.service('db')?.status).toBe('critical');
    // The drift's last gap: at risk now, but held while db is down.
    pulseAfter(saveWorker, DRIFT.slice(27));
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', suppressed_by: 'db', trend: { at_risk: true } });
    await delivered();
    expect(sent(risk)).toEqual(['db:critical']);

    db.pulse();
    clock.advance(1);
    await delivered();
    expect(sent(risk)).toEqual(['db:critical', 'db:resolved', 'save_worker:at_risk']);
    expect(bodies(risk)[2]).toMatchObject({ previous: 'healthy', reason: manager.service('save_worker')?.trend.reason });
    expect(sent(ops)).toEqual(['db:critical', 'db:resolved']);
  });

  it('says at_risk once a pause ends, of a service that turned at risk while paused', async () => {
    monitor();
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT);
    expect(manager.service('save_worker')?.trend.at_risk).toBe(true);
    // Paused before the trend check sees it: the check then finds it at risk, but paused.
    manager.pause('save_worker', { reason: 'deploy' });
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual([]);
    clock.advance(60 * SECOND);
    manager.resume('save_worker');
    // The model is kept across a pause: still at risk, said with the trend as of the pause's end.
    const reason = manager.service('save_worker')?.trend.reason;
    pulseAfter(saveWorker, [20, 20]);
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: null, trend: { at_risk: true } });
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    expect(bodies(risk)[0]).toMatchObject({ previous: 'healthy', reason });
    expect(reason).toMatch(/^gaps growing 1\.5 s per beat: /);
    expect(ops.received).toEqual([]);
  });

  it('says at_risk once a maintenance window ends, of a service that turned at risk in it', async () => {
    // The drift's last pulse comes 614 s in; the window opens 1 ms later, before the trend check sees it.
    const driftMs = DRIFT.reduce((sum, gap) => sum + gap, 0) * SECOND;
    const at = (ms: number): string => new Date(clock.wallNow() + ms).toISOString();
    monitor({ maintenance: [{ services: '*', start: at(driftMs + 1), end: at(driftMs + 61 * SECOND) }] });
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')).toMatchObject({ paused: { reason: 'maintenance' }, trend: { at_risk: true } });
    await delivered();
    expect(sent(risk)).toEqual([]);
    clock.advance(60 * SECOND);
    expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: null, trend: { at_risk: true } });
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    expect(ops.received).toEqual([]);
  });

  it('keeps the at_risk incident open through a miss nobody is alerted of (alert_on_miss false) and its recovery, while the service is still at risk', async () => {
    monitor({ alert_on_miss: false });
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    // The miss, then the late pulse: healthy, and still at risk.
    clock.advance(34 * SECOND);
    expect(manager.service('save_worker')?.status).toBe('warning');
    saveWorker.pulse();
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', trend: { at_risk: true } });
    await delivered();
    expect(ops.received).toEqual([]);
    // The at_risk target heard nothing of the miss, nor of its end: the one incident goes on.
    expect(sent(risk)).toEqual(['save_worker:at_risk']);

    // The risk's end resolves it.
    pulseAfter(saveWorker, STEADY);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
    expect(bodies(risk)[1]).toMatchObject({ previous: 'at_risk', reason: 'no longer at risk: steady' });
  });

  it('resolves the at_risk incident as a pause ends, saying why, when the risk went away during the pause', async () => {
    monitor();
    const saveWorker = worker();
    pulseAfter(saveWorker, DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    // Steady again, and paused as the pulse that clears the risk comes, before the trend check
    // sees it: the check then finds the risk gone, but the service paused, which says nothing.
    for (const gap of STEADY) {
      pulseAfter(saveWorker, [gap]);
      if (manager.service('save_worker')?.trend.at_risk === false) break;
    }
    expect(manager.service('save_worker')?.trend.at_risk).toBe(false);
    manager.pause('save_worker', { reason: 'deploy' });
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    // The pause's end says it at once: the incident was about the risk, not a status to see back.
    manager.resume('save_worker');
    const resumedAt = wallIso();
    clock.advance(1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
    expect(bodies(risk)[1]).toMatchObject({ previous: 'at_risk', time: resumedAt, reason: 'no longer at risk: steady' });
    expect(ops.received).toEqual([]);
  });
});

describe('an at_risk incident across restarts and replicas', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'heartbeat-at-risk-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Closes the monitor as a shutdown does, and starts it again on the same files 5 s later. */
  async function restart(config: HeartbeatConfig = {}): Promise<void> {
    dispatcher.close();
    await manager.close();
    clock.skip(5 * SECOND);
    monitor(config, undefined, fileStore({ dir }));
  }

  it('of a configured service is resolved at the restart, as no longer at risk, since its trend is learnt afresh', async () => {
    const config: HeartbeatConfig = { services: { save_worker: { interval: DRIFT_INTERVAL } } };
    monitor(config, undefined, fileStore({ dir }));
    const first = manager.heartbeat({ tag: 'save_worker' }).start();
    first.pulse();
    pulseAfter(first, DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);

    await restart(config);
    await delivered();
    expect(bodies(risk)[1]).toEqual({
      id: expect.any(String),
      service: 'save_worker',
      status: 'resolved',
      previous: 'at_risk',
      time: wallIso(),
      reason: 'no longer at risk: the trend is learnt afresh after a restart',
      overall_status: 'healthy',
      down_seconds: expect.any(Number),
    });
    const again = manager.heartbeat({ tag: 'save_worker' }).start();
    pulseAfter(again, steadyGaps(20));
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    // No second at_risk for the same drift, nor a second resolved.
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
    expect(ops.received).toEqual([]);
  });

  it('of an in-process service is resolved once the service runs again after the restart', async () => {
    monitor({}, undefined, fileStore({ dir }));
    pulseAfter(worker(), DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);

    await restart();
    // Nothing runs it yet: nothing is said.
    clock.advance(10 * SECOND);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk']);
    const again = worker();
    const startedAt = wallIso();
    clock.advance(TREND_CHECK_MS + 1);
    expect(manager.service('save_worker')).toMatchObject({ status: 'healthy', trend: { at_risk: false } });
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
    expect(bodies(risk)[1]).toMatchObject({
      previous: 'at_risk',
      reason: 'no longer at risk: the trend is learnt afresh after a restart',
    });
    // Within a second of its start.
    expect(Date.parse(bodies(risk)[1]?.time as string) - Date.parse(startedAt)).toBeLessThanOrEqual(TREND_CHECK_MS + 1);
    pulseAfter(again, steadyGaps(30));
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    expect(sent(risk)).toEqual(['save_worker:at_risk', 'save_worker:resolved']);
  });

  it('re-sent after a restart reads that the service is at risk of missing its heartbeat', async () => {
    const resent: Alert[][] = [];
    const notifier = (): AlertTarget => ({
      notifier: {
        name: 'resender',
        send: async () => {},
        resume: (open: () => Alert[]) => {
          resent.push(open());
        },
      },
      minLevel: 'at_risk',
    });
    monitor({}, [notifier()], fileStore({ dir }));
    pulseAfter(worker(), DRIFT);
    clock.advance(TREND_CHECK_MS + 1);
    dispatcher.close();
    await manager.close();
    clock.skip(5 * SECOND);
    monitor({}, [notifier()], fileStore({ dir }));
    expect(resent.at(-1)).toEqual([
      expect.objectContaining({ service: 'save_worker', status: 'at_risk', reason: 'save_worker is at risk of missing its heartbeat' }),
    ]);
  });

  it('of a shared service still at risk is neither resolved nor re-opened by a takeover of the alert lease', async () => {
    const hub = new ReplicaHub();
    const replicas = [hub.join(), hub.join()].map((replica) => {
      monitor({ flap_threshold: 50 }, undefined, replica.store);
      return { replica, manager };
    });
    for (const replica of replicas) {
      replica.manager.heartbeat({ tag: 'cron_job', interval: DRIFT_INTERVAL }).start();
      replica.manager.markRemote('cron_job');
    }
    await delivered();
    const pulseShared = (): void => {
      for (const replica of replicas) replica.manager.get('cron_job')?.pulse();
    };
    pulseShared();
    for (const gap of DRIFT) {
      clock.advance(gap * SECOND);
      pulseShared();
    }
    clock.advance(TREND_CHECK_MS + 1);
    await delivered();
    for (const replica of replicas) expect(replica.manager.service('cron_job')?.trend.at_risk).toBe(true);
    // One at_risk, from the lease's holder.
    expect(sent(risk)).toEqual(['cron_job:at_risk']);

    hub.lead(replicas[1]?.replica ?? null);
    await delivered();
    clock.advance(1);
    await delivered();
    expect(replicas[1]?.manager.service('cron_job')).toMatchObject({ status: 'healthy', trend: { at_risk: true } });
    // Nothing changed for the service: the new holder has nothing to say.
    expect(sent(risk)).toEqual(['cron_job:at_risk']);
  });
});

describe('the trend listener', () => {
  it('is added only with a target of minLevel at_risk, and removed as the dispatcher closes', () => {
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    const on = jest.spyOn(manager, 'on');
    const off = jest.spyOn(manager, 'off');
    const events = (spy: jest.SpyInstance): unknown[] => spy.mock.calls.map(([event]: unknown[]) => event);
    dispatcher = new AlertDispatcher(manager, {
      targets: [
        { url: ops.url, name: 'ops' },
        { url: risk.url, name: 'pager', minLevel: 'critical' },
      ],
      registry: new Registry(),
    });
    expect(events(on)).not.toContain('trend');
    dispatcher.close();

    dispatcher = new AlertDispatcher(manager, {
      targets: [{ url: risk.url, name: 'risk', minLevel: 'at_risk' }],
      registry: new Registry(),
    });
    expect(events(on).filter((event) => event === 'trend')).toHaveLength(1);
    expect(events(off)).not.toContain('trend');
    dispatcher.close();
    expect(events(off).filter((event) => event === 'trend')).toHaveLength(1);
  });

  it('names at_risk among the levels a bad minLevel may be', () => {
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    dispatcher = new AlertDispatcher(manager, { targets: [], registry: new Registry() });
    expect(
      () => new AlertDispatcher(manager, { targets: [{ url: ops.url, minLevel: 'info' as never }], registry: new Registry() }),
    ).toThrow(
      'Invalid AlertDispatcher options: "targets[0].minLevel" is "info"; expected one of "at_risk", "warning", "degraded", "critical".',
    );
  });
});

describe('what is said of at_risk', () => {
  const atRisk: Alert = {
    id: 'a',
    service: 'save_worker',
    status: 'at_risk',
    previous: 'healthy',
    time: '2026-11-30T15:04:09.000Z',
    reason: 'gaps growing 1.5 s per beat: a miss expected in about 33 s',
    overall_status: 'healthy',
  };

  it('in the words the chat and push targets share', () => {
    expect(describeAlert(atRisk)).toMatchObject({
      title: 'save_worker is at risk of missing its heartbeat',
      statusWord: 'At risk',
      summary: 'save_worker is at risk of missing its heartbeat: gaps growing 1.5 s per beat: a miss expected in about 33 s',
      colour: 0x475569,
      shortcode: 'hourglass_flowing_sand',
    });
    const over = describeAlert({
      ...atRisk,
      status: 'resolved',
      previous: 'at_risk',
      reason: 'no longer at risk: steady',
      down_seconds: 270,
    });
    expect(over).toMatchObject({ title: 'save_worker is no longer at risk', reason: 'no longer at risk: steady (at risk for 4m 30s)' });
    expect(over.facts).toContainEqual({ label: 'At risk for', value: '4m 30s' });
    expect(over.facts).toContainEqual({ label: 'Status', value: 'resolved (was at_risk)' });
  });

  it('to ntfy: at low priority, with its tag', async () => {
    await ntfyNotifier({ url: risk.url }).send(atRisk, { signal: new AbortController().signal });
    expect(risk.received[0]?.body).toMatchObject({
      topic: 'risk',
      title: 'save_worker is at risk of missing its heartbeat',
      priority: 2,
      tags: ['hourglass_flowing_sand', 'save_worker'],
    });
  });

  it('to Alertmanager: a resolved it has no memory of ends only the at-risk labelset when it never went past at_risk', async () => {
    manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    dispatcher = new AlertDispatcher(manager, { targets: [], registry: new Registry() });
    const notifier = alertmanagerNotifier({ url: risk.url, instance: 'web-1' });
    const signal = new AbortController().signal;
    await notifier.send(
      { ...atRisk, status: 'resolved', previous: 'at_risk', time: '2026-11-30T15:08:39.000Z', down_seconds: 270 },
      { signal },
    );
    await notifier.send(
      { ...atRisk, status: 'resolved', previous: 'critical', time: '2026-11-30T15:08:39.000Z', down_seconds: 270 },
      { signal },
    );
    const said = risk.received.map(({ body }) =>
      (body as Array<{ labels: Record<string, string>; startsAt: string; endsAt: string }>).map(
        ({ labels, startsAt, endsAt }) => `${labels.alertname}:${labels.severity}:${startsAt}→${endsAt}`,
      ),
    );
    const span = '2026-11-30T15:04:09.000Z→2026-11-30T15:08:39.000Z';
    expect(said).toEqual([
      [`${ALERTMANAGER_AT_RISK_ALERT}:info:${span}`],
      [
        `${ALERTMANAGER_STATUS_ALERT}:warning:${span}`,
        `${ALERTMANAGER_STATUS_ALERT}:degraded:${span}`,
        `${ALERTMANAGER_STATUS_ALERT}:critical:${span}`,
      ],
    ]);
  });

  it('as a saved incident, read back after a restart', () => {
    const saved = { since: 1_700_000_000_000, alerted: 'at_risk', reminders: 0, alerted_at: 1_700_000_000_000 };
    expect(readSavedIncident(saved)).toEqual(saved);
    expect(readSavedIncident({ ...saved, alerted: 'healthy' })).toBe('"alerted" is not one of at_risk, warning, degraded or critical');
  });
});

describe('the Alertmanager target', () => {
  const am = useAlertmanagerWithHook();
  beforeEach(() => {
    // Alertmanager compares startsAt and endsAt with its own wall clock: the fake one starts 20
    // minutes back, so that the quarter of an hour the test moves through is over by now. Its
    // alerts' horizon (4 × resendMs) reaches past the real now.
    jest.useRealTimers();
    jest.useFakeTimers({ now: Date.now() - 20 * 60 * SECOND, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'performance'] });
    clock = createTestClock();
  });

  const pass = (ms: number): void => {
    clock.advance(ms);
  };
  const ofService = (service: string): Promise<GettableAlert[]> => am.alertsOf(service);
  const heard = (service: string): string[] =>
    am
      .notificationsOf(service)
      .flatMap((body) => body.alerts.map((alert) => `${alert.status}:${alert.labels.alertname}:${alert.labels.severity}`));
  async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
    // Real time: Date is fake.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (performance.now() > deadline) throw new Error(`Gave up after ${timeoutMs} ms; last saw ${JSON.stringify(value)}`);
      await realDelay(50);
    }
  }

  it('fires HeartbeatServiceAtRisk with severity info, ends it as the warning starts, and resolves the warning', async () => {
    const notifier = alertmanagerNotifier({ url: am.alertmanager.url, instance: 'at-risk-e2e', resendMs: 30 * 60 * SECOND });
    monitor({}, [{ notifier, minLevel: 'at_risk' }]);
    const drifting = worker('drifting_worker');
    for (const gap of DRIFT) {
      pass(gap * SECOND);
      drifting.pulse();
    }
    pass(TREND_CHECK_MS + 1);
    const [atRisk] = await until(
      () => ofService('drifting_worker'),
      (alerts) => alerts.length === 1,
    );
    expect(atRisk).toMatchObject({
      labels: { alertname: ALERTMANAGER_AT_RISK_ALERT, service: 'drifting_worker', severity: 'info', instance: 'at-risk-e2e' },
      annotations: {
        summary: 'drifting_worker is at risk of missing its heartbeat',
        description: manager.service('drifting_worker')?.trend.reason,
      },
      status: { state: 'active' },
    });
    await until(
      () => heard('drifting_worker'),
      (seen) => seen.includes(`firing:${ALERTMANAGER_AT_RISK_ALERT}:info`),
    );

    // It misses: the same incident escalates, the at-risk labelset ending as the warning starts.
    pass(33 * SECOND);
    pass(1);
    expect(manager.service('drifting_worker')?.status).toBe('warning');
    const [warning] = await until(
      () => ofService('drifting_worker'),
      (alerts) => alerts.length === 1 && alerts[0]?.labels.severity === 'warning',
    );
    expect(warning?.labels.alertname).toBe(ALERTMANAGER_STATUS_ALERT);
    expect(warning?.startsAt).toBe(atRisk?.startsAt);
    await until(
      () => heard('drifting_worker'),
      (seen) =>
        seen.includes(`resolved:${ALERTMANAGER_AT_RISK_ALERT}:info`) && seen.includes(`firing:${ALERTMANAGER_STATUS_ALERT}:warning`),
    );

    // Back: the warning resolves; its gaps still drift, so the at-risk alert fires again, a new incident.
    drifting.pulse();
    pass(1);
    const [again] = await until(
      () => ofService('drifting_worker'),
      (alerts) => alerts.length === 1 && alerts[0]?.labels.alertname === ALERTMANAGER_AT_RISK_ALERT,
    );
    expect(Date.parse(again?.startsAt ?? '')).toBeGreaterThan(Date.parse(warning?.startsAt ?? ''));
    await until(
      () => heard('drifting_worker'),
      (seen) => seen.includes(`resolved:${ALERTMANAGER_STATUS_ALERT}:warning`),
    );

    // Steady again: the risk is gone, and Alertmanager holds nothing of it.
    for (const gap of STEADY) {
      pass(gap * SECOND);
      drifting.pulse();
    }
    pass(TREND_CHECK_MS + 1);
    await until(
      () => ofService('drifting_worker'),
      (alerts) => alerts.length === 0,
    );
  }, 30_000);
});
