// Remote calls shared by replicas: whichever replica a load balancer sends a call to, every one
// of them shows the same state for the service. The replicas meet through ReplicaHub, an
// in-process stand-in for Redis (redisStore has tests of its own against a real redis-server);
// each is a manager behind its own Express app, called over real HTTP with supertest.
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import type { ReplicaLink, SharedSignal } from '../lib/core/replicas';
import { memoryStore } from '../lib/core/store';
import { MAX_WARNED_NAMES, remoteIntake } from '../lib/http/remote-intake';
import { healthRouter } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger, type LogLine } from './helpers/logger';
import { trackManager, useManagerTimers } from './helpers/managers';
import { Contract } from './helpers/openapi';
import { ReplicaHub, type TestReplica } from './helpers/replica-hub';

// supertest's sockets need the real nextTick, setImmediate and queueMicrotask.
useManagerTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });

const TOKEN = 'replica-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const BASE = '/api/health';

interface Replica {
  name: string;
  replica: TestReplica;
  manager: HeartbeatManager;
  app: express.Express;
  clock: TestClock;
  logs: LogLine[];
}

/** A replica: a manager on the hub's store behind its own app, with remote calls on and auto_register. */
function replicaOf(hub: ReplicaHub, name: string, config: HeartbeatConfig = {}, replica = hub.join()): Replica {
  const clock = createTestClock();
  const { logger, lines } = captureLogger('warn');
  const manager = trackManager(
    new HeartbeatManager({
      config: { remote_token: TOKEN, auto_register: true, default_interval: 60, ...config },
      clock,
      logger,
      store: replica.store,
    }),
  );
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry() }));
  return { name, replica, manager, app, clock, logs: lines };
}

function replicas(count: number, config: HeartbeatConfig = {}): { hub: ReplicaHub; all: Replica[] } {
  const hub = new ReplicaHub();
  const all = Array.from({ length: count }, (_, i) => replicaOf(hub, String.fromCharCode(65 + i), config));
  return { hub, all };
}

/** A remote POST, expected to be taken (204, or 200 for pause and resume). */
async function post(to: Replica, path: string, body?: object, status = 204): Promise<request.Response> {
  let call = request(to.app).post(`${BASE}/service/${path}`).set(AUTH);
  if (body !== undefined) call = call.send(body);
  const response = await call;
  expect(`${to.name} POST ${path} → ${response.status}`).toBe(`${to.name} POST ${path} → ${status}`);
  return response;
}

/** The service body as a replica's own HTTP API shows it. */
async function serviceOn(replica: Replica, service: string): Promise<request.Response> {
  return request(replica.app).get(`${BASE}/service/${service}`);
}

/** Each replica's answer for `service`, by replica name: so a failure shows which replica disagrees. */
async function everywhere(
  all: Replica[],
  service: string,
  pick: (body: Record<string, unknown>) => unknown,
): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  for (const replica of all) {
    const response = await serviceOn(replica, service);
    seen[replica.name] = response.status === 200 ? pick(response.body as Record<string, unknown>) : response.status;
  }
  return seen;
}

function same(all: Replica[], value: unknown): Record<string, unknown> {
  return Object.fromEntries(all.map((replica) => [replica.name, value]));
}

it('a pulse to one replica shows on the others, with its metrics and its time', async () => {
  const { all } = replicas(3);
  const [a] = all as [Replica, Replica, Replica];
  await post(a, 'cron_job/pulse', { metrics: { queue_depth: 12 } });
  expect(await everywhere(all, 'cron_job', (body) => [body.total_pulses, body.metrics, body.status])).toEqual(
    same(all, [1, { queue_depth: 12 }, 'healthy']),
  );
  const times = await everywhere(all, 'cron_job', (body) => body.last_heartbeat);
  expect(new Set(Object.values(times)).size).toBe(1);
});

it('round-robin pulses are counted once each on every replica', async () => {
  const { all } = replicas(3);
  for (let i = 0; i < 30; i++) await post(all[i % 3] as Replica, 'worker/pulse');
  expect(await everywhere(all, 'worker', (body) => body.total_pulses)).toEqual(same(all, 30));
});

it('an error taken by one replica shows on the others, at the time it was taken', async () => {
  const { all } = replicas(2, { services: { billing: { interval: 30 } } });
  const [a, b] = all as [Replica, Replica];
  await post(a, 'billing/pulse');
  b.clock.advance(2000);
  await post(b, 'billing/error', { message: 'queue full', critical: true });
  expect(await everywhere(all, 'billing', (body) => [body.status, body.error_count, body.last_error])).toEqual(
    same(all, ['critical', 1, { message: 'queue full', critical: true, time: new Date(b.manager.clock.wallNow()).toISOString() }]),
  );
});

it('a run started on one replica and ended on another is one run on every replica', async () => {
  const { all } = replicas(3);
  const [a, b, c] = all as [Replica, Replica, Replica];
  await post(a, 'nightly/start?rid=run-1');
  expect(await everywhere(all, 'nightly', (body) => (body.run as { state: string }).state)).toEqual(same(all, 'running'));
  a.clock.advance(5000);
  await post(c, 'nightly/pulse?rid=run-1');
  expect(await everywhere(all, 'nightly', (body) => [body.run, body.total_pulses])).toEqual(
    same(all, [{ state: 'idle', started_at: null, last_duration_seconds: 5, last_exit_code: 0, runtime_anomaly: null }, 1]),
  );

  // A failure with a message, and an exit code, end their runs on every replica as well.
  await post(b, 'nightly/start', { rid: 'run-2' });
  await post(a, 'nightly/fail', { rid: 'run-2', message: 'disk full', critical: true });
  expect(await everywhere(all, 'nightly', (body) => [body.status, (body.last_error as { message: string }).message])).toEqual(
    same(all, ['critical', 'disk full']),
  );
  await post(c, 'nightly/start');
  await post(b, 'nightly/exit/3');
  expect(await everywhere(all, 'nightly', (body) => [(body.run as { last_exit_code: number }).last_exit_code, body.error_count])).toEqual(
    same(all, [3, 2]),
  );
});

it('a pause taken by one replica pauses the service on the others, until the same time, and a resume ends it everywhere', async () => {
  const { all } = replicas(3);
  const [a, , c] = all as [Replica, Replica, Replica];
  await post(a, 'importer/pulse');
  const until = new Date(c.manager.clock.wallNow() + 3_600_000).toISOString();
  const paused = await post(c, 'importer/pause', { until, reason: 'database migration' }, 200);
  expect(paused.body).toMatchObject({ reason: 'database migration', until });
  expect(await everywhere(all, 'importer', (body) => body.paused)).toEqual(same(all, paused.body));

  await post(a, 'importer/resume', undefined, 200);
  expect(await everywhere(all, 'importer', (body) => body.paused)).toEqual(same(all, null));

  // Without a body: paused until resumed, with the default reason, everywhere.
  await post(a, 'importer/pause', undefined, 200);
  expect(await everywhere(all, 'importer', (body) => (body.paused as { until: unknown; reason: string } | null)?.reason)).toEqual(
    same(all, 'paused'),
  );
});

it('a DELETE on one replica removes the auto-registered service from the others, freeing its place', async () => {
  const { all } = replicas(2, { max_services: 1 });
  const [a, b] = all as [Replica, Replica];
  await post(b, 'temp_job/pulse');
  expect((await request(a.app).delete(`${BASE}/service/temp_job`).set(AUTH)).status).toBe(204);
  expect(await everywhere(all, 'temp_job', () => 'still there')).toEqual(same(all, 404));
  // Its place on B is free again: B registers another name within max_services 1.
  await post(b, 'other_job/pulse');
  expect(await everywhere(all, 'other_job', (body) => body.total_pulses)).toEqual(same(all, 1));
});

it('a replica that cannot take a name skips its signals, counts them, warns once, and takes the others', async () => {
  const hub = new ReplicaHub();
  const a = replicaOf(hub, 'A');
  const strict = replicaOf(hub, 'S', { auto_register: false, services: { billing: { interval: 30 } } });
  await post(a, 'unknown_job/pulse');
  await post(a, 'unknown_job/pulse');
  await post(a, 'billing/pulse');
  expect(remoteIntake(strict.manager).skipped).toBe(2);
  expect((await serviceOn(strict, 'unknown_job')).status).toBe(404);
  expect((await serviceOn(strict, 'billing')).body).toMatchObject({ total_pulses: 1 });
  const warnings = strict.logs.filter((line) => line.service === 'unknown_job');
  expect(warnings).toEqual([
    expect.objectContaining({
      level: 40,
      msg: 'Signals of service unknown_job from other replicas are skipped here: No service named "unknown_job" is monitored, and auto_register is off.',
    }),
  ]);
  // Nothing of the token shows in what was logged.
  expect(JSON.stringify(strict.logs)).not.toContain(TOKEN);
});

it('warns about at most MAX_WARNED_NAMES names, and goes on counting', () => {
  const hub = new ReplicaHub();
  const a = replicaOf(hub, 'A');
  const strict = replicaOf(hub, 'S', { auto_register: false });
  remoteIntake(strict.manager); // subscribes, as mounting the remote routes did
  const at = a.manager.clock.wallNow();
  for (let i = 0; i < MAX_WARNED_NAMES + 20; i++) a.replica.link.publish({ kind: 'pulse', service: `job_${i}`, at, rid: null });
  expect(remoteIntake(strict.manager).skipped).toBe(MAX_WARNED_NAMES + 20);
  const warned = strict.logs.filter((line) => line.msg.startsWith('Signals of service'));
  expect(warned).toHaveLength(MAX_WARNED_NAMES);
  expect(warned.at(-1)?.msg).toContain('skips of other names are only counted');
});

it('skips a replayed pause of a name not monitored here, and one whose until is over by the time it arrives', async () => {
  const { all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  await post(a, 'report/pulse');
  const at = a.manager.clock.wallNow();
  a.replica.link.publish({ kind: 'pause', service: 'nobody', at, until: null, reason: null });
  a.replica.link.publish({ kind: 'pause', service: 'report', at: at - 10_000, until: at - 1000, reason: 'late' });
  expect(remoteIntake(b.manager).skipped).toBe(2);
  expect((await serviceOn(b, 'report')).body).toMatchObject({ paused: null });
  expect(b.logs.map((line) => line.msg)).toEqual([
    'Signals of service nobody from other replicas are skipped here: it is not monitored here, and a pause registers no service',
    'Signals of service report from other replicas are skipped here: the pause it carried is over already',
  ]);
});

it('skips a replayed resume of a name not monitored here, a removal of a name no remote call registered here, and a pause this version refuses', async () => {
  const { all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  await post(a, 'report/pulse');
  const at = a.manager.clock.wallNow();
  a.replica.link.publish({ kind: 'resume', service: 'nobody', at });
  a.replica.link.publish({ kind: 'remove', service: 'nobody', at });
  // A reason longer than this replica keeps: a newer version's, say. The core says why.
  a.replica.link.publish({ kind: 'pause', service: 'report', at, until: null, reason: 'x'.repeat(1000) });
  expect(remoteIntake(b.manager).skipped).toBe(3);
  expect((await serviceOn(b, 'report')).body).toMatchObject({ paused: null });
  expect(b.logs.map((line) => line.msg)).toEqual([
    'Signals of service nobody from other replicas are skipped here: it is not monitored here',
    expect.stringMatching(/^Signals of service report from other replicas are skipped here: pause\("report"\): "reason" is/),
  ]);
});

it('never re-publishes a replayed signal: each call is shared once, by the replica that took it', async () => {
  const { all } = replicas(3);
  const [a, b, c] = all as [Replica, Replica, Replica];
  await post(a, 'worker/pulse', { rid: 'r1' });
  await post(a, 'worker/error', { message: 'slow' });
  expect(a.replica.published).toEqual([
    { kind: 'pulse', service: 'worker', at: expect.any(Number) as number, rid: 'r1' },
    { kind: 'error', service: 'worker', at: expect.any(Number) as number, message: 'slow', critical: false },
  ]);
  expect(b.replica.published).toEqual([]);
  expect(c.replica.published).toEqual([]);
});

it('two routers on one manager replay each signal once, and count max_services for the manager', async () => {
  const hub = new ReplicaHub();
  const a = replicaOf(hub, 'A');
  // B's link lets any number of listeners subscribe, as a careless link might: the intake must subscribe once.
  const joined = hub.join();
  const listeners: ((signal: SharedSignal) => void)[] = [];
  joined.link.onSignal((signal) => {
    for (const listener of listeners) listener(signal);
  });
  const link: ReplicaLink = {
    ...joined.link,
    replicaId: joined.link.replicaId,
    leading: joined.link.leading,
    onSignal: (listener) => listeners.push(listener),
  };
  const b = replicaOf(hub, 'B', { max_services: 1 }, { ...joined, link, store: { ...joined.store, replicas: link } });
  const second = express();
  second.use(healthRouter({ manager: b.manager, registry: new Registry(), basePath: '/second' }));

  await post(a, 'worker/pulse');
  expect(listeners).toHaveLength(1);
  expect((await serviceOn(b, 'worker')).body).toMatchObject({ total_pulses: 1 });

  // worker took B's one place: the second router cannot register another.
  const refused = await request(second).post('/second/service/other/pulse').set(AUTH);
  expect(refused.status).toBe(429);
  expect(refused.body).toEqual({
    error: 'This server already took 1 remote services (max_services); no more are registered.',
    service: 'other',
  });
});

it('a signal taken while the store is away arrives when it is back, counted at its own time', async () => {
  const { all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  await post(a, 'worker/pulse');
  a.clock.advance(10_000);
  a.replica.connected = false;
  await post(a, 'worker/pulse');
  const takenAt = new Date(a.manager.clock.wallNow()).toISOString();
  expect((await serviceOn(b, 'worker')).body).toMatchObject({ total_pulses: 1 });
  a.clock.advance(20_000);
  a.replica.connected = true;
  // Read 20 s after it was taken, it counts when it happened.
  expect((await serviceOn(b, 'worker')).body).toMatchObject({ total_pulses: 2, last_heartbeat: takenAt });
});

it('a late pulse older than a newer one changes only the count', async () => {
  const { all } = replicas(3);
  const [a, b, c] = all as [Replica, Replica, Replica];
  await post(b, 'worker/pulse');
  a.replica.connected = false;
  await post(a, 'worker/pulse');
  a.clock.advance(5000);
  await post(b, 'worker/pulse');
  const newer = ((await serviceOn(c, 'worker')).body as { last_heartbeat: string }).last_heartbeat;
  expect(newer).toBe(new Date(b.manager.clock.wallNow()).toISOString());
  a.replica.connected = true;
  expect(await everywhere([b, c], 'worker', (body) => [body.total_pulses, body.last_heartbeat])).toEqual(same([b, c], [3, newer]));
});

it('a replay that fails is logged with the service name, and the next signal is applied', async () => {
  const { all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  const at = a.manager.clock.wallNow();
  // Not a signal a replica sends: a name that is no string (an older or foreign publisher's).
  expect(() => {
    a.replica.link.publish({ kind: 'pulse', service: 42 as unknown as string, at, rid: null });
  }).not.toThrow();
  expect(b.logs).toEqual([
    expect.objectContaining({ level: 50, service: 42, msg: 'A pulse of service 42 from another replica could not be applied here' }),
  ]);
  await post(a, 'worker/pulse');
  expect((await serviceOn(b, 'worker')).body).toMatchObject({ total_pulses: 1 });
});

it('a closed manager takes no more signals', async () => {
  const { all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  await post(a, 'worker/pulse');
  await b.manager.close();
  a.replica.link.publish({ kind: 'pulse', service: 'later', at: a.manager.clock.wallNow(), rid: null });
  expect(remoteIntake(b.manager).skipped).toBe(0);
  expect(b.manager.get('later')).toBeUndefined();
  expect(b.logs).toEqual([]);
});

it('/live names the replica and whether it leads, as the contract documents', async () => {
  const { hub, all } = replicas(2);
  const [a, b] = all as [Replica, Replica];
  const contract = new Contract();
  const live = async (replica: Replica) => {
    const response = await request(replica.app).get(`${BASE}/live`);
    expect(
      contract.problems({
        method: 'GET',
        path: `${BASE}/live`,
        status: response.status,
        headers: response.headers,
        body: response.body as unknown,
      }),
    ).toEqual([]);
    return (response.body as { store: { replica: unknown } }).store.replica;
  };
  expect(await live(a)).toEqual({ id: a.replica.link.replicaId, leading: true, dropped_signals: 0 });
  expect(await live(b)).toEqual({ id: b.replica.link.replicaId, leading: false, dropped_signals: 0 });
  hub.lead(b.replica);
  expect(await live(a)).toEqual({ id: a.replica.link.replicaId, leading: false, dropped_signals: 0 });
  expect(await live(b)).toEqual({ id: b.replica.link.replicaId, leading: true, dropped_signals: 0 });
});

it('without a shared store nothing is shared: remote calls answer as before and /live names no replica', async () => {
  const clock = createTestClock();
  const manager = trackManager(
    new HeartbeatManager({ config: { log_level: 'silent', remote_token: TOKEN, auto_register: true }, clock, store: memoryStore() }),
  );
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry() }));
  expect(manager.replicas).toBeNull();
  expect((await request(app).post(`${BASE}/service/worker/pulse`).set(AUTH)).status).toBe(204);
  expect((await request(app).get(`${BASE}/service/worker`)).body).toMatchObject({ total_pulses: 1 });
  expect(manager.isShared('worker')).toBe(false);
  const live = await request(app).get(`${BASE}/live`);
  expect(live.body.store).toEqual({ state: 'memory', last_error: null, errors: 0, last_write: null });
});

it('marks every service a remote call reaches as shared, a configured one too, and not one only its own code pulses', async () => {
  const { all } = replicas(2, { services: { billing: { interval: 30 } } });
  const [a, b] = all as [Replica, Replica];
  a.manager.heartbeat({ tag: 'in_process' }).pulse();
  await post(a, 'billing/pulse');
  expect(a.manager.isShared('billing')).toBe(true);
  expect(b.manager.isShared('billing')).toBe(true);
  expect(a.manager.isShared('in_process')).toBe(false);
});

it("a job run's end taken while the store was away counts where it happened on every replica: same status, last heartbeat and run", async () => {
  const { all } = replicas(2);
  const [a] = all as [Replica, Replica];
  await post(a, 'nightly/start?rid=r1');
  a.clock.advance(1000);
  a.replica.connected = false;
  await post(a, 'nightly/pulse?rid=r1'); // taken while Redis is away
  a.clock.advance(600_000);
  a.replica.connected = true; // replayed on b only now
  const view = (body: Record<string, unknown>) => [body.status, body.last_heartbeat, body.run];
  const onA = (await everywhere([a], 'nightly', view)).A as unknown[];
  expect(onA[0]).toBe('critical'); // ten minutes without word after the run
  expect(await everywhere(all, 'nightly', view)).toEqual(same(all, onA));
});

it("a job run's start and a failed end taken while the store was away start and fail where they happened on every replica", async () => {
  const { all } = replicas(2);
  const [a] = all as [Replica, Replica];
  await post(a, 'nightly/pulse');
  a.replica.connected = false;
  await post(a, 'nightly/start?rid=r2');
  a.clock.advance(30_000);
  await post(a, 'nightly/fail?rid=r2', { message: 'disk full' });
  a.clock.advance(120_000);
  a.replica.connected = true;
  const view = (body: Record<string, unknown>) => [body.run, body.last_error];
  const onA = (await everywhere([a], 'nightly', view)).A as unknown[];
  expect((onA[0] as { last_duration_seconds: number }).last_duration_seconds).toBe(30);
  expect(await everywhere(all, 'nightly', view)).toEqual(same(all, onA));
});
