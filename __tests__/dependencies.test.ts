import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerStore } from './helpers/manager-store';
import { useManagerTimers } from './helpers/managers';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe('depends_on', () => {
  let fixture: ManagerFixture;
  useManagerTimers();

  const services = {
    web_listener: { interval: 10, grace: 0 },
    web_listener_check: { interval: 5, grace: 0, depends_on: ['web_listener'] },
    page: { interval: 60, grace: 0, depends_on: ['web_listener_check'] },
  };

  it('names the degraded or critical dependency in suppressed_by, in the body and in the change, and only then', () => {
    fixture = createManager({ log_level: 'silent', services });
    const listener = fixture.manager.heartbeat({ tag: 'web_listener' });
    const check = fixture.manager.heartbeat({ tag: 'web_listener_check' });
    // The check pulses, the listener stops: warning (1 miss) holds nothing yet.
    for (let second = 0; second < 10; second++) {
      check.pulse();
      fixture.clock.advance(SECOND);
    }
    check.pulse();
    fixture.clock.advance(1);
    expect(fixture.manager.service('web_listener')?.status).toBe('warning');
    expect(fixture.manager.service('web_listener_check')?.suppressed_by).toBeNull();

    // Degraded: its dependents' alerts are held, through the chain too (the check itself still pulses).
    for (let second = 0; second < 20; second++) {
      check.pulse();
      fixture.clock.advance(SECOND);
    }
    expect(fixture.manager.service('web_listener')?.status).toBe('degraded');
    expect(fixture.manager.service('web_listener_check')?.suppressed_by).toBe('web_listener');
    expect(fixture.manager.service('page')?.suppressed_by).toBe('web_listener');
    expect(fixture.changes.find((change) => change.service === 'web_listener')).toMatchObject({ suppressed_by: null });
    // The check goes silent too: its change is held by the listener, and the page is held by the nearer one, the check.
    fixture.clock.advance(16 * SECOND);
    expect(fixture.changes.find((change) => change.service === 'web_listener_check')).toMatchObject({ suppressed_by: 'web_listener' });
    expect(fixture.manager.service('page')?.suppressed_by).toBe('web_listener_check');

    // Both are back: nothing is held.
    listener.pulse();
    check.pulse();
    expect(fixture.manager.service('web_listener_check')?.suppressed_by).toBeNull();
    expect(fixture.manager.service('page')?.suppressed_by).toBeNull();
  });

  it('holds a dependent whose change comes in the same timer turn as its dependency going down', () => {
    fixture = createManager({
      log_level: 'silent',
      services: { db: { interval: 10, grace: 0, critical_after: 1 }, api: { interval: 10, grace: 0, depends_on: ['db'] } },
    });
    fixture.clock.advance(10 * SECOND + 1);
    const api = fixture.changes.find((change) => change.service === 'api');
    expect(fixture.changes.find((change) => change.service === 'db')).toMatchObject({ to: 'critical' });
    expect(api).toMatchObject({ to: 'warning', suppressed_by: 'db' });
  });
});

describe('a pause across a restart', () => {
  const store = useManagerStore(Date.parse('2026-06-01T12:00:00Z'));

  it('is kept by the store: still paused after a restart, with its reason, until and since', () => {
    const config = { log_level: 'silent', services: { save_worker: { interval: 10 } } };
    const first = store.start(config);
    const until = Date.parse('2026-06-01T14:00:00Z');
    const paused = first.manager.pause('save_worker', { until, reason: 'migration' });
    store.clock.advance(MINUTE);

    const second = store.restart(first, 5 * MINUTE, config);
    expect(second.manager.service('save_worker')?.paused).toEqual(paused);
    // Silent for an hour after the restart, and still not missed.
    store.clock.advance(60 * MINUTE);
    expect(second.manager.service('save_worker')?.status).toBe('healthy');
    expect(second.changes.filter((change) => change.to !== 'healthy')).toEqual([]);

    // resume() forgets it: the next start finds no pause.
    expect(second.manager.resume('save_worker')).toBe(true);
    const third = store.restart(second, MINUTE, config);
    expect(third.manager.service('save_worker')?.paused).toBeNull();
  });

  it('keeps the pause of an in-process heartbeat until its app starts it again after a restart', () => {
    const config = { log_level: 'silent' };
    const first = store.start(config);
    first.manager.heartbeat({ tag: 'ad_hoc', interval: 10 }).start();
    first.manager.pause('ad_hoc', { reason: 'deploy' });
    const second = store.restart(first, MINUTE, config);
    expect(second.manager.service('ad_hoc')).toBeUndefined();
    second.manager.heartbeat({ tag: 'ad_hoc', interval: 10 }).start();
    expect(second.manager.service('ad_hoc')?.paused).toMatchObject({ reason: 'deploy', until: null });
    store.clock.advance(10 * MINUTE);
    expect(second.manager.service('ad_hoc')?.status).toBe('healthy');
  });

  it('forgets a pause whose until passed while the monitor was down', () => {
    const config = { log_level: 'silent', services: { save_worker: { interval: 10 } } };
    const first = store.start(config);
    first.manager.pause('save_worker', { until: Date.parse('2026-06-01T12:10:00Z') });
    const second = store.restart(first, 20 * MINUTE, config);
    expect(second.manager.service('save_worker')?.paused).toBeNull();
  });
});
