import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AlertDispatcher, type AlertTarget } from '../lib/alerts/dispatcher';
import { INCIDENT_NOTES, incidentKey } from '../lib/alerts/saved-incidents';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import type { ReplicaLink } from '../lib/core/replicas';
import type { HeartbeatStore } from '../lib/core/store';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger, type LogLine } from './helpers/logger';
import { trackManager, useManagerTimers } from './helpers/managers';
import { startReceiver, type Receiver } from './helpers/receiver';
import { ReplicaHub, type TestReplica } from './helpers/replica-hub';

// Exactly one alert per transition of a service the replicas share (issue 18): several
// managers in this process share signals, notes and the alert lease through the in-process
// hub; each has its own dispatcher, and they all send to one real webhook receiver on
// loopback. The managers' time is on jest's fake timers; deliveries are real HTTP, so the
// tests wait for them in real time, polling every 10 ms.

// Promise jobs, nextTick and setImmediate stay real: fetch and the receiver run on them.
useManagerTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });

/** Well above the changes a test makes, so that no incident is taken for flapping. */
const CONFIG: HeartbeatConfig = { flap_threshold: 50 };
const SHARED = 'cron_job';
/** Five missed beats of a 10 s interval: critical. */
const TO_CRITICAL_MS = 60_000;
const OPS = 'ops';
const SHARED_KEY = incidentKey(SHARED, OPS);

interface Replica {
  replica: TestReplica;
  manager: HeartbeatManager;
  dispatcher: AlertDispatcher;
  lines: LogLine[];
}

let clock: TestClock;
let hub: ReplicaHub;
let ops: Receiver;
let running: Replica[];

beforeEach(async () => {
  clock = createTestClock();
  hub = new ReplicaHub();
  ops = await startReceiver();
  running = [];
});
afterEach(async () => {
  await ops.close();
});

/** A replica: a manager on a store of the hub (or `store`, one wrapping it), and its dispatcher sending critical alerts to `ops`. */
function join(config: HeartbeatConfig = CONFIG, replica = hub.join(), store: HeartbeatStore = replica.store): Replica {
  const { logger, lines } = captureLogger();
  const manager = trackManager(new HeartbeatManager({ config, clock, logger, store }));
  const targets: AlertTarget[] = [{ url: ops.url, name: OPS, minLevel: 'critical' }];
  const dispatcher = new AlertDispatcher(manager, { targets, registry: new Registry(), timeoutMs: 5000, attempts: 1 });
  const joined = { replica, manager, dispatcher, lines };
  running.push(joined);
  return joined;
}

/**
 * Three replicas, the first holding the lease and done reading the shared notes (a promise
 * job, which advancing the fake timers does not run), each running the shared service from now on.
 */
async function three(config: HeartbeatConfig = CONFIG): Promise<[Replica, Replica, Replica]> {
  const replicas: [Replica, Replica, Replica] = [join(config), join(config), join(config)];
  for (const { manager } of replicas) runShared(manager);
  await delivered();
  return replicas;
}

/** Starts the shared service on `manager`, as the first remote call that reached every replica would. */
function runShared(manager: HeartbeatManager): void {
  manager.heartbeat({ tag: SHARED, interval: 10 }).start();
  manager.markRemote(SHARED);
}

/** A pulse of the shared service on every replica still running, as the replicated signal gives each; then 1 ms, for the status it brings. */
function pulseShared(): void {
  for (const { manager } of running) if (!manager.isClosed) manager.get(SHARED)?.pulse();
  clock.advance(1);
}

/** Waits until every alert made so far was delivered or given up on: what the receiver holds then is all it gets. */
async function delivered(): Promise<void> {
  // Alerts leave their queue from a promise job, and a takeover starts from one: let those of this turn run first.
  await new Promise((resolve) => setImmediate(resolve));
  const pending = (): number => running.reduce((sum, { dispatcher }) => sum + dispatcher.pending, 0);
  for (let waited = 0; pending() > 0; waited += 10) {
    if (waited > 10_000) throw new Error(`alerts still pending after 10 s: ${pending()}`);
    await realDelay(10);
  }
}

const received = (): Array<{ service: string; status: string; reminder?: number; down_seconds?: number }> =>
  ops.received.map((request) => request.body as { service: string; status: string; reminder?: number; down_seconds?: number });
const statuses = (): string[] => received().map((alert) => alert.status);
/** How many alerts `replica` delivered, from its own log. */
const sentBy = (replica: Replica): number => replica.lines.filter((line) => line.msg === `Alert sent to ${OPS}`).length;

test('three replicas send one critical for a shared service, and one resolved once it pulses again', async () => {
  const [a, b, c] = await three();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  expect(received()[0]?.service).toBe(SHARED);
  // Every replica followed it: all three see it critical, and only the leader told the receiver.
  for (const { manager } of [a, b, c]) expect(manager.service(SHARED)?.status).toBe('critical');
  expect([sentBy(a), sentBy(b), sentBy(c)]).toEqual([1, 0, 0]);

  pulseShared();
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect([sentBy(a), sentBy(b), sentBy(c)]).toEqual([2, 0, 0]);
});

test('the shared notes hold the open incident, written by the leader only, and drop it after the resolved', async () => {
  const [a, b] = await three();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(hub.notesOf(INCIDENT_NOTES).get(SHARED_KEY)).toMatchObject({ alerted: 'critical', reminders: 0 });
  // The manager's own notes hold none of it: the shared service's incident is the replicas'.
  for (const { manager } of running) expect(manager.notesOf(INCIDENT_NOTES).size).toBe(0);

  // The webhook URL, a secret, is not in them: the target is named by its name.
  expect(JSON.stringify([...hub.notesOf(INCIDENT_NOTES)])).not.toContain('SECRET');

  // With no holder of the lease, no replica writes: the recovery every one of them follows leaves the note in place.
  hub.lead(null);
  pulseShared();
  await delivered();
  expect(hub.notesOf(INCIDENT_NOTES).has(SHARED_KEY)).toBe(true);
  expect(statuses()).toEqual(['critical']);

  hub.lead(a.replica);
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect(hub.notesOf(INCIDENT_NOTES).size).toBe(0);
  expect(sentBy(b)).toBe(0);
});

test('a leader that dies mid-incident: the next one sends nothing again, and the resolved once', async () => {
  const [a, b, c] = await three();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  const firstAlert = Date.parse((ops.received[0]?.body as { time: string }).time);

  void a.manager.close(); // killed: it says nothing, and the lease moves when it runs out
  clock.advance(30_000);
  hub.lead(b.replica);
  await delivered();
  expect(statuses()).toEqual(['critical']); // the notes say it was sent

  pulseShared();
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect([sentBy(b), sentBy(c)]).toEqual([1, 0]);
  // Timed from the first alert, which the dead leader sent: the notes carried it over.
  const resolved = received()[1];
  expect(Math.abs((resolved?.down_seconds ?? 0) - (clock.wallNow() - firstAlert) / 1000)).toBeLessThanOrEqual(1);

  pulseShared();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved', 'critical']);
  expect([sentBy(b), sentBy(c)]).toEqual([2, 0]);
});

test('a critical while nobody holds the lease is sent once, by the replica that takes it', async () => {
  const [a, b, c] = await three();
  hub.lead(null);
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual([]);

  hub.lead(b.replica);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  expect(hub.notesOf(INCIDENT_NOTES).get(SHARED_KEY)).toMatchObject({ alerted: 'critical' });

  pulseShared();
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect([sentBy(a), sentBy(b), sentBy(c)]).toEqual([0, 2, 0]);
});

test('a recovery while nobody holds the lease: the replica that takes it sends the resolved the last holder owed', async () => {
  const [a, b] = await three();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  hub.lead(null);
  pulseShared();
  await delivered();
  expect(statuses()).toEqual(['critical']);

  hub.lead(b.replica);
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect([sentBy(a), sentBy(b)]).toEqual([1, 1]);

  // Said once: a second takeover finds nothing open.
  hub.lead(a.replica);
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
});

test('a leader that takes the lease back after Redis lost the notes does not alert again what it sent itself', async () => {
  const [a, b] = await three();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical']);

  // Redis restarted empty: the note, and the lease, are gone; the same replica takes it again.
  a.replica.link.saveNote(INCIDENT_NOTES, SHARED_KEY, null);
  hub.lead(null);
  hub.lead(a.replica);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  expect(a.lines.some((line) => line.msg.includes('1 it had alerted itself'))).toBe(true);
  // Written back: had a died now, the next holder would find it and not alert it again.
  expect(hub.notesOf(INCIDENT_NOTES).has(SHARED_KEY)).toBe(true);
  hub.lead(b.replica);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  hub.lead(a.replica);
  await delivered();

  pulseShared();
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved']);
  expect([sentBy(a), sentBy(b)]).toEqual([2, 0]);
});

test("at a takeover, an unreadable shared note is logged and removed, and one about the taker's own in-process service is left alone", async () => {
  const [, b] = await three();
  b.manager.heartbeat({ tag: 'local_worker', interval: 10 }).start();
  hub.lead(null);
  clock.advance(TO_CRITICAL_MS); // the shared service goes critical with nobody to say so
  await delivered();
  const localKey = incidentKey('local_worker', OPS);
  const since = clock.wallNow();
  b.replica.link.saveNote(INCIDENT_NOTES, SHARED_KEY, { alerted: 'critical', since: 'yesterday' });
  b.replica.link.saveNote(INCIDENT_NOTES, localKey, { since, alerted: 'critical', reminders: 0, alerted_at: since });

  hub.lead(b.replica);
  await delivered();
  expect(b.lines.filter((line) => line.msg.startsWith('Skipped a saved alert incident that could not be read'))).toHaveLength(1);
  expect(hub.notesOf(INCIDENT_NOTES).get(SHARED_KEY)).toMatchObject({ alerted: 'critical', reminders: 0 }); // b's own, after its alert
  expect(hub.notesOf(INCIDENT_NOTES).get(localKey)).toMatchObject({ since });
  // Nothing said the shared critical went out: b says it. Its in-process service, critical too,
  // it had alerted itself (its own incident, in its manager's notes), and says nothing more of.
  expect(received().map((alert) => `${alert.service}:${alert.status}`)).toEqual(['local_worker:critical', 'cron_job:critical']);
  expect(b.manager.notesOf(INCIDENT_NOTES).has(localKey)).toBe(true);

  // Its recovery closes b's own incident, in its manager's notes; the shared note is not b's to touch.
  b.manager.get('local_worker')?.pulse();
  clock.advance(1);
  await delivered();
  expect(received().map((alert) => `${alert.service}:${alert.status}`)).toEqual([
    'local_worker:critical',
    'cron_job:critical',
    'local_worker:resolved',
  ]);
  expect(b.manager.notesOf(INCIDENT_NOTES).has(localKey)).toBe(false);
  expect(hub.notesOf(INCIDENT_NOTES).has(localKey)).toBe(true);
});

test('the old leader sends nothing for shared services after it lost the lease', async () => {
  const [a, b] = await three();
  hub.lead(b.replica);
  await delivered();
  clock.advance(TO_CRITICAL_MS);
  pulseShared();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical', 'resolved', 'critical']);
  expect(sentBy(a)).toBe(0);
  expect(a.lines.some((line) => line.msg.startsWith('Lost the alert lease'))).toBe(true);
});

test("each replica alerts for its own in-process services, whoever holds the lease, and keeps their incidents in its manager's notes", async () => {
  const replicas = await three();
  for (const { manager } of replicas) manager.heartbeat({ tag: 'local_worker', interval: 10 }).start();
  // Only the in-process service goes quiet.
  for (let passed = 0; passed < TO_CRITICAL_MS; passed += 5000) {
    clock.advance(5000);
    pulseShared();
  }
  await delivered();
  expect(statuses()).toEqual(['critical', 'critical', 'critical']);
  expect(received().every((alert) => alert.service === 'local_worker')).toBe(true);
  expect(replicas.map(sentBy)).toEqual([1, 1, 1]);
  const key = incidentKey('local_worker', OPS);
  for (const { manager } of replicas) expect(manager.notesOf(INCIDENT_NOTES).has(key)).toBe(true);
  expect(hub.notesOf(INCIDENT_NOTES).has(key)).toBe(false);
});

test('a service shared since its incidents opened: each replica resolves the incident it alerted itself, and the next one comes from the leader alone', async () => {
  const replicas = await three();
  for (const { manager } of replicas) manager.heartbeat({ tag: 'app_job', interval: 10 }).start();
  const appJob = (): void => {
    for (const { manager } of replicas) manager.get('app_job')?.pulse();
    clock.advance(1);
  };
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(
    received()
      .filter((alert) => alert.service === 'app_job')
      .map((alert) => alert.status),
  ).toEqual(['critical', 'critical', 'critical']);

  // A remote call reaches it, and every replica now shares it.
  for (const { manager } of replicas) manager.markRemote('app_job');
  appJob();
  await delivered();
  const appJobAlerts = (): string[] =>
    received()
      .filter((alert) => alert.service === 'app_job')
      .map((alert) => alert.status);
  expect(appJobAlerts()).toEqual(['critical', 'critical', 'critical', 'resolved', 'resolved', 'resolved']);
  const key = incidentKey('app_job', OPS);
  for (const { manager } of replicas) expect(manager.notesOf(INCIDENT_NOTES).has(key)).toBe(false);

  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(appJobAlerts().slice(6)).toEqual(['critical']);
  expect(hub.notesOf(INCIDENT_NOTES).has(key)).toBe(true);
});

test('reminders come from the leader only, and the next leader goes on with their count', async () => {
  const [a, b, c] = await three({ ...CONFIG, repeat_every: 60 });
  clock.advance(TO_CRITICAL_MS);
  clock.advance(2 * 60_000);
  await delivered();
  expect(received().map((alert) => alert.reminder ?? 0)).toEqual([0, 1, 2]);
  expect(sentBy(a)).toBe(3);

  void a.manager.close();
  hub.lead(b.replica);
  await delivered();
  // The last reminder went out under a minute ago: the next one is not due at the takeover.
  expect(received()).toHaveLength(3);
  clock.advance(60_000);
  await delivered();
  expect(received().map((alert) => alert.reminder ?? 0)).toEqual([0, 1, 2, 3]);
  expect([sentBy(b), sentBy(c)]).toEqual([1, 0]);
});

test('a reminder that fell due while nobody held the lease is sent at the takeover', async () => {
  const [, b] = await three({ ...CONFIG, repeat_every: 60 });
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  hub.lead(null);
  clock.advance(3 * 60_000);
  await delivered();
  expect(received()).toHaveLength(1);

  hub.lead(b.replica);
  await delivered(); // the takeover, which finds the reminder overdue
  clock.advance(1);
  await delivered();
  expect(received().map((alert) => alert.reminder ?? 0)).toEqual([0, 1]);
  clock.advance(60_001); // the scheduler wakes 1 ms after a deadline
  await delivered();
  expect(received().map((alert) => alert.reminder ?? 0)).toEqual([0, 1, 2]);
});

test('a configured remote service is shared from the start', async () => {
  const config: HeartbeatConfig = { ...CONFIG, services: { [SHARED]: { remote: true, interval: 10 } } };
  const replicas = [join(config), join(config), join(config)];
  for (const { manager } of replicas) manager.heartbeat({ tag: SHARED }).start();
  await delivered();
  clock.advance(TO_CRITICAL_MS);
  await delivered();
  expect(statuses()).toEqual(['critical']);
  expect(replicas.map(sentBy)).toEqual([1, 0, 0]);
});

test('a dependent that went critical with its dependency while nobody held the lease stays held at the takeover, and is alerted once the dependency recovers', async () => {
  const config: HeartbeatConfig = {
    ...CONFIG,
    services: { db: { remote: true, interval: 10 }, api: { remote: true, interval: 10, depends_on: ['db'] } },
  };
  const replicas = [join(config), join(config), join(config)];
  for (const { manager } of replicas) for (const tag of ['db', 'api']) manager.heartbeat({ tag }).start();
  await delivered();
  hub.lead(null);
  clock.advance(TO_CRITICAL_MS);
  await delivered();

  const b = replicas[1] as Replica;
  hub.lead(b.replica);
  await delivered();
  // One outage, one alert: the dependency's, naming the dependent it holds.
  expect(received().map((alert) => `${alert.service}:${alert.status}`)).toEqual(['db:critical']);
  expect(ops.received[0]?.body).toMatchObject({ affected: ['api'] });

  for (const { manager } of replicas) manager.get('db')?.pulse();
  clock.advance(1);
  await delivered();
  expect(received().map((alert) => `${alert.service}:${alert.status}`)).toEqual(['db:critical', 'db:resolved', 'api:critical']);
  expect(replicas.map(sentBy)).toEqual([0, 3, 0]);
});

describe('while the taking replica reads the shared notes', () => {
  /** `replica`'s store, with its link's readNotes() replaced by `readNotes`, which may call the link's own. */
  function withReadNotes(replica: TestReplica, readNotes: ReplicaLink['readNotes']): HeartbeatStore {
    const link = replica.link;
    const wrapped: ReplicaLink = {
      replicaId: link.replicaId,
      skewMs: () => link.skewMs(),
      publish: (signal) => {
        link.publish(signal);
      },
      onSignal: (listener) => {
        link.onSignal(listener);
      },
      get leading() {
        return link.leading;
      },
      onLeadChange: (listener) => {
        link.onLeadChange(listener);
      },
      saveNote: (space, key, value) => {
        link.saveNote(space, key, value);
      },
      readNotes,
    };
    return { ...replica.store, replicas: wrapped };
  }

  /**
   * `replica`'s store, whose readNotes() takes the notes as they are when called, and hands
   * them over when the test calls `release(n)` for the n-th read (from 0).
   */
  function slowNotes(replica: TestReplica): { store: HeartbeatStore; release: (read: number) => void } {
    const releases: Array<() => void> = [];
    const store = withReadNotes(replica, async (space) => {
      const notes = replica.link.readNotes(space);
      await new Promise<void>((resolve) => releases.push(resolve));
      return notes;
    });
    const release = (read: number): void => {
      const resolve = releases[read];
      if (!resolve) throw new Error(`no read #${read}: ${releases.length} so far`);
      resolve();
    };
    return { store, release };
  }

  /** Replica a, which leads, and b, whose reads of the notes wait for `release()`; both run the shared service. */
  async function leaderAndSlowFollower(): Promise<{ a: Replica; b: Replica; release: (read: number) => void }> {
    const a = join();
    const second = hub.join();
    const { store, release } = slowNotes(second);
    const b = join(CONFIG, second, store);
    runShared(a.manager);
    runShared(b.manager);
    await delivered();
    return { a, b, release };
  }

  test('alerts about shared services are held, and the takeover says what changed meanwhile once', async () => {
    const { a, b, release } = await leaderAndSlowFollower();
    clock.advance(TO_CRITICAL_MS);
    await delivered();
    expect(statuses()).toEqual(['critical']);

    hub.lead(b.replica);
    pulseShared(); // a recovery, while b's read is on its way
    await delivered();
    expect(statuses()).toEqual(['critical']);

    release(0);
    await delivered();
    expect(statuses()).toEqual(['critical', 'resolved']);
    expect([sentBy(a), sentBy(b)]).toEqual([1, 1]);
  });

  test('a lease lost before the read comes back sends nothing', async () => {
    const { a, b, release } = await leaderAndSlowFollower();
    hub.lead(b.replica);
    clock.advance(TO_CRITICAL_MS);
    hub.lead(a.replica);
    await delivered();
    release(0);
    await delivered();
    // a took the lease back, read the notes (nothing sent) and sent the critical; b, late, nothing.
    expect(statuses()).toEqual(['critical']);
    expect([sentBy(a), sentBy(b)]).toEqual([1, 0]);
  });

  test('a read that a later takeover overtook is dropped: its older notes say nothing again', async () => {
    const { a, b, release } = await leaderAndSlowFollower();
    clock.advance(TO_CRITICAL_MS);
    await delivered();
    hub.lead(b.replica); // read 0 finds the critical open
    hub.lead(a.replica);
    await delivered();
    pulseShared();
    await delivered();
    expect(statuses()).toEqual(['critical', 'resolved']);

    hub.lead(b.replica); // read 1 finds nothing open
    release(1);
    await delivered();
    release(0); // late, and stale: had b taken it up, it would resolve the incident again
    await delivered();
    expect(statuses()).toEqual(['critical', 'resolved']);
    expect(sentBy(b)).toBe(0);
  });

  test('a read that fails is tried again, and nothing about a shared service goes out until one succeeds', async () => {
    const a = join();
    const second = hub.join();
    let failing = true;
    const store = withReadNotes(second, (space) =>
      failing ? Promise.reject(new Error('redis://:SECRET@db:6379 went away')) : second.link.readNotes(space),
    );
    const b = join(CONFIG, second, store);
    runShared(a.manager);
    runShared(b.manager);
    await delivered();
    clock.advance(TO_CRITICAL_MS);
    await delivered();
    hub.lead(b.replica);
    await delivered();
    pulseShared(); // a recovery b must not announce from nothing, nor miss
    await delivered();
    clock.advance(3000); // retries, all failing
    await delivered();
    expect(statuses()).toEqual(['critical']);

    failing = false;
    clock.advance(1000);
    await delivered();
    expect(statuses()).toEqual(['critical', 'resolved']);
    expect([sentBy(a), sentBy(b)]).toEqual([1, 1]);
    const warnings = b.lines.filter((line) => line.msg.startsWith('Could not read the shared alert incidents'));
    expect(warnings).toHaveLength(1); // once per takeover, not once per retry
    expect(JSON.stringify(b.lines)).not.toContain('SECRET');
  });
});
