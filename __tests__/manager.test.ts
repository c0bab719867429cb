import { Heartbeat } from '../lib/core/manager';
import { LANE_MIN_GAP_MS } from '../lib/core/watcher';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';
import { learningTrend } from './helpers/drift';

let fixture: ManagerFixture;
useManagerTimers();

function statusOf(tag: string): string | undefined {
  return fixture.manager.status().services[tag]?.status;
}

describe('missed beats', () => {
  it('walks exactly 1..5 misses through warning, warning, degraded, degraded, critical', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    const seen: string[] = [];
    for (let beat = 1; beat <= 5; beat++) {
      // Beat k is missed just after k*1000 + 100 ms (grace is 10% of the interval).
      fixture.clock.advance(beat === 1 ? 1102 : 1000);
      seen.push(statusOf('save_worker') as string);
    }
    expect(seen).toEqual(['warning', 'warning', 'degraded', 'degraded', 'critical']);
    expect(fixture.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['healthy->warning', 'warning->degraded', 'degraded->critical']);
    expect(fixture.manager.status().services.save_worker?.consecutive_failures).toBe(5);
  });

  it('is healthy on both sides of the grace boundary as the rule says', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10, grace: 2 });
    heartbeat.start();
    fixture.clock.advance(12_000); // exactly interval + grace: not missed yet
    expect(statusOf('w')).toBe('healthy');
    heartbeat.pulse();
    fixture.clock.advance(12_001); // one millisecond past it
    expect(statusOf('w')).toBe('warning');
  });

  it('defaults the grace to 10% of the interval', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'w', interval: 20 }).start();
    fixture.clock.advance(22_000);
    expect(statusOf('w')).toBe('healthy');
    fixture.clock.advance(1);
    expect(statusOf('w')).toBe('warning');
  });

  it('takes the global grace from the config', () => {
    fixture = createManager({ grace: 0 });
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    fixture.clock.advance(1001);
    expect(statusOf('w')).toBe('warning');
  });

  it('recovers on the next pulse and reports it once', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 1 });
    heartbeat.start();
    fixture.clock.advance(3200);
    expect(statusOf('w')).toBe('degraded');
    heartbeat.pulse();
    expect(statusOf('w')).toBe('healthy');
    expect(fixture.manager.status().services.w?.consecutive_failures).toBe(0);
    fixture.clock.advance(1);
    expect(fixture.changes.at(-1)).toMatchObject({ from: 'degraded', to: 'healthy', reason: 'pulse received' });
  });

  it('detects a transition within 50 ms of its deadline among many services', () => {
    fixture = createManager();
    for (let i = 0; i < 2000; i++) fixture.manager.heartbeat({ tag: `s${i}`, interval: 1 + (i % 7) }).start();
    fixture.clock.advance(1100 + 50);
    const warned = fixture.changes.filter((c) => c.to === 'warning').map((c) => c.service);
    // Every service with a 1 s interval (i % 7 === 0) missed its first beat at 1100 ms.
    expect(warned.length).toBe(Math.ceil(2000 / 7));
    expect(warned.every((tag) => Number(tag.slice(1)) % 7 === 0)).toBe(true);
  });

  it('settles services whose deadlines fall exactly on the timer turn, without spinning', () => {
    fixture = createManager({ grace: 0 });
    // A clock that gives up, instead of letting a spinning timer turn hang the test run.
    let reads = 0;
    const now = fixture.clock.now.bind(fixture.clock);
    fixture.clock.now = () => {
      if (++reads > 100_000) throw new Error('the timer turn is spinning');
      return now();
    };
    // b's first deadline (1001 ms) is exactly when the timer armed for a's (1000 ms) fires.
    fixture.manager.heartbeat({ tag: 'a', interval: 1 }).start();
    fixture.clock.advance(1);
    fixture.manager.heartbeat({ tag: 'b', interval: 1 }).start();
    fixture.clock.advance(1000);
    expect(fixture.changes.map((c) => c.service)).toEqual(['a']);
    // b shares a's lane, which waits at least LANE_MIN_GAP_MS between sweeps.
    fixture.clock.advance(LANE_MIN_GAP_MS + 1);
    expect(fixture.changes.map((c) => `${c.service}:${c.to}`)).toEqual(['a:warning', 'b:warning']);
  });

  it('keeps one timer for all services', () => {
    fixture = createManager();
    for (let i = 0; i < 50; i++) fixture.manager.heartbeat({ tag: `s${i}`, interval: 1 + i }).start();
    expect(jest.getTimerCount()).toBe(1);
  });
});

describe('time', () => {
  it.each([3_600_000, -3_600_000])('ignores a wall-clock jump of %i ms', (jump) => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10 });
    heartbeat.start();
    fixture.clock.advance(5000);
    fixture.clock.jumpWall(jump);
    fixture.clock.advance(5000);
    expect(statusOf('w')).toBe('healthy');
    heartbeat.pulse();
    fixture.clock.advance(10_000);
    expect(statusOf('w')).toBe('healthy');
    expect(fixture.changes).toEqual([]);
    // Only the displayed timestamp follows the wall clock.
    const shown = Date.parse(fixture.manager.status().services.w?.last_heartbeat as string);
    expect(Math.abs(shown - (fixture.clock.wallNow() - 10_000))).toBeLessThanOrEqual(1);
  });

  it('reports a jump from healthy straight to critical as one transition', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    fixture.clock.skip(60_000); // the event loop was blocked: no timer fired meanwhile
    expect(fixture.changes).toEqual([]); // the service gets one interval to show it is alive
    fixture.clock.advance(1101);
    expect(fixture.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['healthy->critical']);
    // 60 s blocked, the overdue timer ran at its own 1101 ms, then the 1.1 s of amnesty: 62.2 s.
    expect(fixture.changes[0]?.reason).toBe('missed 62 heartbeats');
  });
});

describe('errors', () => {
  it('makes a service warning until the next pulse', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10 });
    heartbeat.start();
    heartbeat.error('disk full');
    expect(statusOf('w')).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ from: 'healthy', to: 'warning', reason: 'error: disk full' });
    heartbeat.error('still full');
    expect(fixture.manager.service('w')).toMatchObject({ error_count: 2, consecutive_failures: 2 });
    heartbeat.pulse();
    expect(statusOf('w')).toBe('healthy');
    expect(fixture.manager.service('w')).toMatchObject({
      error_count: 2,
      consecutive_failures: 0,
      last_error: { message: 'still full', critical: false },
    });
  });

  it('makes a system exception critical until the next pulse', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10 });
    heartbeat.start();
    heartbeat.error('segfault', { critical: true });
    expect(statusOf('w')).toBe('critical');
    expect(fixture.manager.status().overall_status).toBe('critical');
    heartbeat.error('minor'); // a lesser error does not lower it
    expect(statusOf('w')).toBe('critical');
    heartbeat.pulse();
    expect(statusOf('w')).toBe('healthy');
  });

  it('lets the worse of misses and errors win', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 1 });
    heartbeat.start();
    fixture.clock.advance(3200);
    heartbeat.error('late and failing');
    expect(statusOf('w')).toBe('degraded');
    expect(fixture.manager.status().services.w?.consecutive_failures).toBe(4);
  });

  it('records one change for a service failing on every request: a pulse and an error in one tick are no recovery', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'api', interval: 10 });
    heartbeat.start();
    for (let request = 0; request < 4; request++) {
      // The pulse middleware, then the handler's error, before the monitor's timer turns.
      heartbeat.pulse();
      heartbeat.error('database refused');
      fixture.clock.advance(1000);
    }
    // Reporting the pulse's recovery before each error would alert resolved and warning each
    // time, and then flapping, for a service nobody could have seen healthy at a timer turn.
    expect(fixture.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['healthy->warning']);
    expect(statusOf('api')).toBe('warning');
  });

  it('bounds the stored message', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 1 });
    heartbeat.error('x'.repeat(5000));
    expect(fixture.manager.service('w')?.last_error?.message.length).toBe(1025);
  });
});

describe('overall status', () => {
  it('is healthy with no services', () => {
    fixture = createManager();
    expect(fixture.manager.status()).toEqual({ services: {}, overall_status: 'healthy' });
  });

  it('is the worst service status', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'a', interval: 1 }).start();
    fixture.manager.heartbeat({ tag: 'b', interval: 100 }).start();
    fixture.clock.advance(3200);
    expect(fixture.manager.status().overall_status).toBe('degraded');
  });

  it('lets a critical: false service raise it at most to degraded', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'optional', interval: 1, critical: false }).start();
    fixture.manager.heartbeat({ tag: 'core', interval: 100 }).start();
    fixture.clock.advance(10_000);
    const status = fixture.manager.status();
    expect(status.services.optional?.status).toBe('critical');
    expect(status.overall_status).toBe('degraded');
    expect(fixture.manager.overallStatus()).toBe('degraded');
  });

  it('is offline when heartbeats are disabled, and heartbeats are no-ops', () => {
    fixture = createManager({ enabled: false, services: { save_worker: { interval: 1 } } });
    const heartbeat = new Heartbeat({ tag: 'save_worker', manager: fixture.manager });
    heartbeat.start();
    heartbeat.pulse();
    heartbeat.error('ignored');
    expect(heartbeat.isActive).toBe(false);
    expect(fixture.manager.status()).toEqual({ services: {}, overall_status: 'offline' });
    expect(fixture.manager.service('save_worker')).toBeUndefined();
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('configured services', () => {
  it('count from the manager creation: a configured worker that never starts goes red', () => {
    fixture = createManager({ services: { save_worker: { interval: 1, critical: true } } });
    expect(fixture.manager.status().services.save_worker).toMatchObject({ status: 'healthy', last_heartbeat: null, active: false });
    fixture.clock.advance(5200);
    expect(statusOf('save_worker')).toBe('critical');
    expect(fixture.manager.status().overall_status).toBe('critical');
  });

  it('take their settings from the config over the code', () => {
    fixture = createManager({ services: { save_worker: { interval: 0.2, critical: false } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: 30 });
    expect(heartbeat.interval).toBe(0.2);
    expect(heartbeat.critical).toBe(false);
  });

  it('stay watched after their heartbeat stops, and recover when a new one starts', () => {
    fixture = createManager({ services: { save_worker: { interval: 1 } } });
    const first = fixture.manager.heartbeat({ tag: 'save_worker' });
    first.start();
    first.stop();
    fixture.clock.advance(1200);
    expect(statusOf('save_worker')).toBe('warning');
    const second = fixture.manager.heartbeat({ tag: 'save_worker' }).start();
    expect(statusOf('save_worker')).toBe('healthy');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'healthy', reason: 'started' });
    expect(fixture.manager.get('save_worker')).toBe(second);
  });
});

describe('ad-hoc services', () => {
  it('leave the status when stopped, and ignore pulses afterwards', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 1 });
    heartbeat.start();
    heartbeat.stop();
    heartbeat.stop();
    heartbeat.pulse();
    expect(fixture.manager.status().services).toEqual({});
    expect(jest.getTimerCount()).toBe(0);
  });

  it('are not listed before they start', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 1 });
    expect(fixture.manager.status().services).toEqual({});
    heartbeat.pulse(); // the first pulse starts it
    expect(heartbeat.isActive).toBe(true);
    expect(fixture.manager.service('job')).toMatchObject({ total_pulses: 1, status: 'healthy' });
  });

  it('refuse a second live heartbeat with the same tag, naming the fix', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: 'job', interval: 1 });
    expect(() => fixture.manager.heartbeat({ tag: 'job', interval: 1 })).toThrow(
      'A heartbeat for "job" is already running. Stop it first, or reuse it with manager.get("job").',
    );
  });
});

describe('statusView()', () => {
  it('equals status() through starts, stops, pulses, errors and misses, rewriting one kept object', () => {
    fixture = createManager({ services: { configured_worker: { interval: 2 } } });
    const { manager, clock } = fixture;
    const view = manager.statusView();
    const check = () => {
      expect(manager.statusView()).toEqual(manager.status());
      expect(JSON.stringify(manager.statusView())).toBe(JSON.stringify(manager.status())); // key order too
    };
    check();
    const a = manager.heartbeat({ tag: 'a', interval: 1 }).start();
    const b = manager.heartbeat({ tag: 'b', interval: 1, critical: false }).start();
    check();
    clock.advance(1200);
    a.pulse();
    check();
    b.error('disk full');
    check();
    clock.advance(3000);
    check();
    expect(manager.statusView().overall_status).toBe('degraded'); // b is not critical: at most degraded
    a.stop();
    check();
    manager.heartbeat({ tag: 'a', interval: 5 }).start();
    check();
    const kept = manager.statusView();
    clock.advance(500);
    b.pulse();
    expect(manager.statusView()).toBe(kept); // the same set of services: the same object, rewritten
    expect(kept).not.toBe(view); // services joined and left since the first
    check();
  });
});

describe('service()', () => {
  it('returns the seed body with extras', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: 30 });
    heartbeat.start();
    fixture.clock.advance(2 * 86_400_000 + 14 * 3_600_000 + 23 * 60_000);
    heartbeat.pulse();
    heartbeat.pulse();
    const body = fixture.manager.service('save_worker');
    expect(body).toEqual({
      service: 'save_worker',
      status: 'healthy',
      last_heartbeat: new Date(fixture.clock.wallNow()).toISOString(),
      uptime: '2d 14h 23m',
      started_at: new Date(fixture.clock.wallNow() - (2 * 86_400_000 + 14 * 3_600_000 + 23 * 60_000)).toISOString(),
      total_pulses: 2,
      error_count: 0,
      interval: 30,
      consecutive_failures: 0,
      group: null,
      critical: true,
      active: true,
      last_error: null,
      metrics: {},
      run: { state: 'idle', started_at: null, last_duration_seconds: null, last_exit_code: null, runtime_anomaly: null },
      paused: null,
      suppressed_by: null,
      trend: learningTrend(0),
    });
  });

  it('is undefined for unknown and prototype names', () => {
    fixture = createManager();
    for (const name of ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(fixture.manager.service(name)).toBeUndefined();
    }
  });

  it('keeps a service called __proto__ as an ordinary key', () => {
    fixture = createManager();
    fixture.manager.heartbeat({ tag: '__proto__', interval: 1 }).start();
    const status = fixture.manager.status();
    expect(Object.keys(status.services)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(status)).services.__proto__.status).toBe('healthy');
  });
});

describe('listeners', () => {
  it('survive a listener that throws, and the error is logged', () => {
    fixture = createManager();
    fixture.manager.on('status', () => {
      throw new Error('listener bug');
    });
    const later: string[] = [];
    fixture.manager.on('status', (change) => later.push(change.to));
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    expect(() => {
      fixture.clock.advance(1200);
    }).not.toThrow();
    expect(later).toEqual(['warning']);
    expect(fixture.logs.some((line) => line.msg === 'A heartbeat status listener threw')).toBe(true);
  });

  it('hear the recovery when one of them pulses the service it was told about', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    let restarts = 0;
    fixture.manager.on('status', (change) => {
      if (change.to === 'warning' && restarts++ === 0) heartbeat.pulse(); // a supervisor kicking the worker once
    });
    fixture.clock.advance(1105);
    expect(fixture.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['healthy->warning', 'warning->healthy']);
    fixture.clock.advance(1105); // no pulse this time
    expect(fixture.changes.map((c) => c.to)).toEqual(['warning', 'healthy', 'warning']);
  });

  it('get changes in the order they happened, even one caused by an earlier listener', () => {
    fixture = createManager({ services: { w: { interval: 1 } } });
    fixture.manager.heartbeat({ tag: 'w' }).start();
    fixture.manager.on('status', (change) => {
      if (change.to !== 'critical') return;
      fixture.manager.get('w')?.stop(); // restart the worker
      fixture.manager.heartbeat({ tag: 'w' }).start();
    });
    const later: string[] = [];
    fixture.manager.on('status', (change) => later.push(`${change.from}->${change.to}`));
    fixture.clock.advance(5200);
    expect(later).toEqual(['healthy->warning', 'warning->degraded', 'degraded->critical', 'critical->healthy']);
    expect(fixture.changes.map((c) => `${c.from}->${c.to}`)).toEqual(later);
  });

  it('can be removed', () => {
    fixture = createManager();
    const seen: string[] = [];
    const listener = (change: { to: string }) => seen.push(change.to);
    fixture.manager.on('status', listener).off('status', listener);
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    fixture.clock.advance(1200);
    expect(seen).toEqual([]);
  });
});

describe('cleanupOldData', () => {
  it('drops history and error details older than the given days', () => {
    fixture = createManager();
    const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 1 });
    heartbeat.start();
    heartbeat.error('old');
    heartbeat.pulse();
    fixture.clock.advance(8 * 86_400_000);
    heartbeat.pulse();
    fixture.clock.advance(1);
    // Eight days ago: healthy->warning (the error), warning->healthy, then the silence walked it
    // to warning, degraded and critical. Today: critical->healthy.
    expect(fixture.changes.map((c) => c.to)).toEqual(['warning', 'healthy', 'warning', 'degraded', 'critical', 'healthy']);
    expect(heartbeat.cleanupOldData(7)).toBe(6); // five old transitions and the old error
    expect(fixture.manager.service('w')?.last_error).toBeNull();
    expect(heartbeat.cleanupOldData(7)).toBe(0);
  });

  it('rejects a bad number of days', () => {
    fixture = createManager();
    expect(() => fixture.manager.cleanupOldData(-1)).toThrow('days is -1; expected a finite number of at least 0');
    expect(() => fixture.manager.cleanupOldData(Number.NaN)).toThrow(RangeError);
  });
});

describe('close()', () => {
  it('stops every heartbeat and leaves no timers, and is safe twice', () => {
    fixture = createManager({ services: { save_worker: { interval: 1 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 1 });
    heartbeat.start();
    expect(jest.getTimerCount()).toBe(1);
    void fixture.manager.close();
    void fixture.manager.close();
    expect(jest.getTimerCount()).toBe(0);
    expect(heartbeat.isActive).toBe(false);
    heartbeat.pulse();
    fixture.clock.advance(10_000);
    expect(fixture.changes).toEqual([]);
    expect(() => fixture.manager.heartbeat({ tag: 'late' })).toThrow('its HeartbeatManager is closed');
  });
});
