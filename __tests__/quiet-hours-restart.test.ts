// Jobs and quiet hours across restarts, found by review (issue 17): each a failing test before its fix.
import { useManagerStore } from './helpers/manager-store';

describe('a restart just after a pause ends', () => {
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const store = useManagerStore(Date.parse('2026-06-01T12:00:00Z'));

  it('a restart just after a pause ended keeps the fresh interval the pause end gave', () => {
    const config = { log_level: 'silent', services: { save_worker: { interval: 60, grace: 10 } } };
    const first = store.start(config);
    first.manager.heartbeat({ tag: 'save_worker' }).pulse();
    first.manager.pause('save_worker', { until: Date.parse('2026-06-01T13:00:00Z'), reason: 'migration' });
    store.clock.advance(60 * MINUTE + 5 * SECOND); // 13:00:05, pause over 5 s ago; fresh deadline 13:01:10
    expect(first.manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: null });
    const second = store.restart(first, 1 * SECOND, config); // 13:00:06
    store.clock.advance(100);
    const body = second.manager.service('save_worker');
    expect(body?.status).toBe('healthy');
  });

  it('a restart just after resume() keeps the fresh interval', () => {
    const config = { log_level: 'silent', services: { save_worker: { interval: 60, grace: 10 } } };
    const first = store.start(config);
    first.manager.heartbeat({ tag: 'save_worker' }).pulse();
    first.manager.pause('save_worker', { reason: 'migration' });
    store.clock.advance(60 * MINUTE);
    first.manager.resume('save_worker');
    store.clock.advance(5 * SECOND);
    expect(first.manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: null });
    const second = store.restart(first, 1 * SECOND, config);
    store.clock.advance(100);
    const body = second.manager.service('save_worker');
    expect(body?.status).toBe('healthy');
  });
});

describe('a pause of a service that left', () => {
  const SECOND = 1000;
  const store = useManagerStore(Date.parse('2026-06-01T12:00:00Z'));

  it('a pause of a service that was stopped and removed does not come back on a new service of that name after a restart', () => {
    const config = { log_level: 'silent' };
    const first = store.start(config);
    const old = first.manager.heartbeat({ tag: 'x', interval: 10 }).start();
    first.manager.pause('x', { reason: 'old worker retired' });
    old.stop(); // not configured: the service and its state are gone
    store.clock.advance(SECOND);
    const fresh = first.manager.heartbeat({ tag: 'x', interval: 10 }).start();
    fresh.pulse();
    const before = first.manager.service('x')?.paused ?? null;
    const second = store.restart(first, SECOND, config);
    second.manager.heartbeat({ tag: 'x', interval: 10 }).start();
    const after = second.manager.service('x')?.paused ?? null;
    expect(before).toBeNull();
    expect(after).toBeNull();
  });
});

describe('a restart before a nightly job is due', () => {
  const MINUTE = 60_000;
  const store = useManagerStore(Date.parse('2026-06-01T03:00:00Z'));

  it('a monitor restart an hour before a nightly job is due does not hide its miss for a day', () => {
    const config = { log_level: 'silent', services: { nightly: { schedule: '0 3 * * *', timezone: 'UTC', grace: 300 } } };
    const first = store.start(config);
    store.clock.advance(MINUTE);
    first.manager.heartbeat({ tag: 'nightly' }).pulse(); // ran at 03:01 on June 1
    store.clock.advance(23 * 60 * MINUTE - 2 * MINUTE); // 01:59 on June 2
    const second = store.restart(first, MINUTE, config); // deploy of the app: back at 02:00
    store.clock.advance(66 * MINUTE); // 03:06: the 03:00 run did not happen
    expect(second.manager.service('nightly')?.status).toBe('warning');
  });
});

describe('a remote job run across a restart', () => {
  const MINUTE = 60_000;
  const store = useManagerStore(Date.parse('2026-06-01T03:00:00Z'));

  it('a remote job run in progress across a monitor restart is still watched by max_runtime, not by missed beats', () => {
    const config = { log_level: 'silent', services: { backup: { interval: 60, max_runtime: 3600 } } };
    const first = store.start(config);
    first.manager.heartbeat({ tag: 'backup' }).signalRun('run-1', null); // POST /start?rid=run-1 from the backup host
    store.clock.advance(20 * MINUTE);
    expect(first.manager.service('backup')?.run.state).toBe('running');
    const second = store.restart(first, 10 * 1000, config);
    store.clock.advance(5 * MINUTE);
    const after = second.manager.service('backup');
    expect(after?.status).toBe('healthy');
    expect(after?.run).toMatchObject({ state: 'running', started_at: '2026-06-01T03:00:00.000Z' });
  });
});
