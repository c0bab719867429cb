// The engine's side of replicas: one wall clock, signals counted where they happened, and a
// shared snapshot that holds the shared services only. The HTTP layer and the alerts have tests
// of their own, and redisStore against a real redis-server too.
import { HeartbeatManager } from '../lib/core/manager';
import { sharedClock } from '../lib/core/replicas';
import { createTestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';
import { trackManager, useManagerTimers } from './helpers/managers';
import { ReplicaHub, type TestReplica } from './helpers/replica-hub';

useManagerTimers();

function replicaManager(replica: TestReplica, config: ConstructorParameters<typeof HeartbeatManager>[0] = {}) {
  const clock = createTestClock();
  const { logger, lines } = captureLogger();
  const manager = trackManager(
    new HeartbeatManager({ config: { default_interval: 10, ...config.config }, clock, logger, store: replica.store }),
  );
  return { manager, clock, logs: lines };
}

test('sharedClock moves wall time by the measured skew and leaves monotonic time alone', () => {
  let skew = 250;
  const base = { now: () => 42, wallNow: () => 1_000_000 };
  const clock = sharedClock(base, { skewMs: () => skew });
  expect(clock.now()).toBe(42);
  expect(clock.wallNow()).toBe(1_000_250);
  skew = -750;
  expect(clock.wallNow()).toBe(999_250);
});

test("a replica's manager shows wall times on the shared clock", () => {
  const hub = new ReplicaHub();
  hub.skewMs = 60_000; // Redis is a minute ahead of this machine
  const { manager, clock } = replicaManager(hub.join());
  expect(manager.replicas).not.toBeNull();
  expect(manager.clock.wallNow() - clock.wallNow()).toBe(60_000);
  manager.heartbeat({ tag: 'worker' }).pulse();
  const shown = Date.parse(manager.service('worker')?.last_heartbeat ?? '');
  expect(Math.abs(shown - (clock.wallNow() + 60_000))).toBeLessThan(5);
});

test('a manager without a shared store has no replicas and its own clock', () => {
  const clock = createTestClock();
  const manager = trackManager(new HeartbeatManager({ clock }));
  expect(manager.replicas).toBeNull();
  expect(manager.clock).toBe(clock);
});

describe('signals another replica took in', () => {
  test('a pulse counts at its own time: last_heartbeat is when it happened, not when it was read', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join());
    const heartbeat = manager.heartbeat({ tag: 'cron_job' });
    heartbeat.start();
    clock.advance(4000);
    const at = manager.clock.wallNow() - 1500;
    heartbeat.pulseAt(at);
    const body = manager.service('cron_job');
    expect(body?.total_pulses).toBe(1);
    expect(Date.parse(body?.last_heartbeat ?? '')).toBeCloseTo(at, -1);
  });

  test('a late pulse that creates its service starts it where it happened, not at the replay', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join());
    const at = manager.clock.wallNow();
    clock.advance(20_000);
    manager.heartbeat({ tag: 'registered_late', critical: false }).replayPulse(at, null);
    const body = manager.service('registered_late');
    expect(body?.total_pulses).toBe(1);
    expect(Date.parse(body?.last_heartbeat ?? '')).toBeCloseTo(at, -1);
    expect(body?.status).toBe('warning'); // 20 s without a pulse at a 10 s interval
  });

  test('a late pulse older than the last sign of life is counted and revives nothing', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join(), { config: { critical_after: 3 } });
    const heartbeat = manager.heartbeat({ tag: 'cron_job', interval: 10 });
    heartbeat.start();
    const early = manager.clock.wallNow() + 1000;
    clock.advance(60_000); // five missed beats: critical
    expect(manager.service('cron_job')?.status).toBe('critical');
    // A pulse from a minute ago, replayed now that Redis is back: it happened before the misses.
    heartbeat.pulseAt(early);
    clock.advance(1000);
    const body = manager.service('cron_job');
    expect(body?.status).toBe('critical');
    expect(body?.total_pulses).toBe(1);
  });

  test('a pulse from within the interval recovers the service as a pulse now would', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join());
    const heartbeat = manager.heartbeat({ tag: 'cron_job', interval: 10 });
    heartbeat.start();
    clock.advance(12_000);
    expect(manager.service('cron_job')?.status).toBe('warning');
    heartbeat.pulseAt(manager.clock.wallNow() - 200);
    clock.advance(100);
    expect(manager.service('cron_job')?.status).toBe('healthy');
  });

  test('a pulse stamped after now (clocks disagreeing by a hair) counts as now', () => {
    const { manager } = replicaManager(new ReplicaHub().join());
    const heartbeat = manager.heartbeat({ tag: 'cron_job' });
    heartbeat.start();
    heartbeat.pulseAt(manager.clock.wallNow() + 5000);
    const shown = Date.parse(manager.service('cron_job')?.last_heartbeat ?? '');
    expect(shown).toBeLessThanOrEqual(manager.clock.wallNow() + 1);
  });

  test('an error from before the last pulse is counted, and leaves the status healthy', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join());
    const heartbeat = manager.heartbeat({ tag: 'cron_job' });
    heartbeat.start();
    const before = manager.clock.wallNow() + 500;
    clock.advance(2000);
    heartbeat.pulse();
    heartbeat.errorAt(before, 'disk full', false);
    const body = manager.service('cron_job');
    expect(body?.status).toBe('healthy');
    expect(body?.error_count).toBe(1);
  });

  test('an error from after the last pulse counts as reported at its own time', () => {
    const { manager, clock } = replicaManager(new ReplicaHub().join());
    const heartbeat = manager.heartbeat({ tag: 'cron_job' });
    heartbeat.pulse();
    clock.advance(2000);
    heartbeat.errorAt(manager.clock.wallNow() - 300, 'disk full', true);
    const body = manager.service('cron_job');
    expect(body?.status).toBe('critical');
    expect(body?.last_error?.message).toBe('disk full');
  });
});

describe('the shared snapshot', () => {
  test('holds the remote services only, configured remote ones from the start', async () => {
    const hub = new ReplicaHub();
    const leader = hub.join();
    const { manager, clock } = replicaManager(leader, {
      config: { services: { nightly_backup: { interval: 60, remote: true }, local_loop: { interval: 60 } } },
    });
    manager.heartbeat({ tag: 'in_process' }).pulse();
    const remote = manager.heartbeat({ tag: 'bridge_client' });
    remote.pulse();
    manager.markRemote('bridge_client');
    clock.advance(2000); // a flush
    await manager.close();
    const saved = leader.store.load({ logger: manager.logger, clock }).snapshot as { services: { tag: string }[] };
    expect(saved.services.map((service) => service.tag).sort()).toEqual(['bridge_client', 'nightly_backup']);
    const joiner = replicaManager(hub.join(), {
      config: { services: { nightly_backup: { interval: 60, remote: true }, local_loop: { interval: 60 } } },
    });
    const tags = Object.keys(joiner.manager.status().services).sort();
    expect(tags).toEqual(['bridge_client', 'local_loop', 'nightly_backup']);
    expect(joiner.manager.service('bridge_client')?.total_pulses).toBe(1);
  });

  test('a young shared snapshot means other replicas were watching: no offline gap at a join', async () => {
    const hub = new ReplicaHub();
    const first = replicaManager(hub.join(), { config: { services: { bridge_client: { interval: 60, remote: true } } } });
    first.manager.heartbeat({ tag: 'bridge_client' }).pulse();
    first.clock.advance(2000);
    await first.manager.close();
    const joiner = replicaManager(hub.join(), { config: { services: { bridge_client: { interval: 60, remote: true } } } });
    expect(joiner.manager.restored?.offlineMs).toBe(0);
    expect(joiner.manager.history('bridge_client')?.gaps ?? []).toEqual([]);
  });
});
