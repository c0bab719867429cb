// Three replicas of the demo behind a round-robin "load balancer" (this test), sharing a real
// redis-server: every replica shows every remote pulse, a shared service's incident is alerted
// once (not once per replica), a replica killed with SIGKILL mid-incident loses no `resolved`,
// and a Redis restart crashes nothing, loses no pulse and repeats no alert.
import { fastDemoConfig, pollUntil, startDemoProcess, type DemoProcess } from './helpers/demo';
import { startReceiver, type Receiver } from './helpers/receiver';
import { startRedis, type RedisServer } from './helpers/redis-server';

jest.setTimeout(180_000);

const TOKEN = 'replica-test-token-0123456789abcdef';
const SERVICE = 'bridge_client';
/** The shared service's interval: auto-registered services take default_interval. */
const INTERVAL_S = 2;

let redis: RedisServer;
let receiver: Receiver;
const replicas: DemoProcess[] = [];
let next = 0;

/**
 * The demo's own services at a minute (they stay healthy and quiet); remote ones at
 * INTERVAL_S: warning, degraded after 3 misses, critical after 4. Three incidents in a row are
 * no flapping here: that has tests of its own.
 */
function replicaConfig() {
  const config = fastDemoConfig(60);
  return { ...config, default_interval: INTERVAL_S, critical_after: 4, auto_register: true, flap_threshold: 100 };
}

const alive = (): DemoProcess[] => replicas.filter((replica) => replica.child.exitCode === null && replica.child.signalCode === null);

/** One remote pulse, to the next replica in turn. */
async function pulse(targets = alive()): Promise<number> {
  const target = targets[next++ % targets.length] as DemoProcess;
  const response = await fetch(`${target.bridgeUrl}/api/health/service/${SERVICE}/pulse`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  await response.body?.cancel();
  return response.status;
}

/** `count` pulses, round-robin, `concurrency` at a time; resolves with the status codes seen. */
async function pulses(count: number, concurrency = 16): Promise<Map<number, number>> {
  const codes = new Map<number, number>();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const code = await pulse();
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return codes;
}

async function serviceOn(replica: DemoProcess): Promise<{ status: string; total_pulses: number } | null> {
  const response = await fetch(`${replica.bridgeUrl}/api/health/service/${SERVICE}`);
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  return (await response.json()) as { status: string; total_pulses: number };
}

async function liveOn(
  replica: DemoProcess,
): Promise<{ store: { state: string; errors: number; replica?: { id: string; leading: boolean } } }> {
  return (await (await fetch(`${replica.bridgeUrl}/api/health/live`)).json()) as {
    store: { state: string; errors: number; replica?: { id: string; leading: boolean } };
  };
}

/** The alerts about the shared service, by status. */
function alertsByStatus(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { body } of receiver.received) {
    const alert = body as { service: string; status: string };
    if (alert.service === SERVICE) counts[alert.status] = (counts[alert.status] ?? 0) + 1;
  }
  return counts;
}

/** Keeps pulsing the live replicas every 100 ms until `done` holds. */
async function pulseUntil(done: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`Gave up after ${timeoutMs} ms; alerts so far ${JSON.stringify(alertsByStatus())}`);
    expect(await pulse()).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Pulses `targets` every 100 ms in the background until stop(); `sent` counts the pulses answered 204. */
function keepPulsing(targets: DemoProcess[]): { stop: () => Promise<void>; readonly sent: number } {
  const state = { running: true };
  let sent = 0;
  const loop = (async () => {
    while (state.running) {
      expect(await pulse(targets)).toBe(204);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await loop;
    },
    get sent() {
      return sent;
    },
  };
}

/** Waits a few intervals while the service keeps pulsing, so it stays healthy: an alert sent twice would arrive meanwhile. */
async function settleHealthy(): Promise<void> {
  const pulsing = keepPulsing(alive());
  await settle();
  await pulsing.stop();
}

/** Waits a few intervals more: an alert sent twice (by a second replica, or again after a takeover) would arrive within them. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_S * 1000));

beforeAll(async () => {
  [redis, receiver] = await Promise.all([startRedis(), startReceiver()]);
  const env = { HEARTBEAT_REDIS_URL: redis.url, HEARTBEAT_TOKEN: TOKEN, ALERT_WEBHOOK_URL: receiver.url };
  replicas.push(...(await Promise.all([0, 1, 2].map(() => startDemoProcess(replicaConfig(), env)))));
});

afterAll(async () => {
  if (process.env.DEBUG_REPLICAS)
    console.log(
      JSON.stringify(
        receiver.received.map((r) => r.body),
        null,
        1,
      ),
    );
  await Promise.all(replicas.map((replica) => replica.stop()));
  await Promise.all([redis.stop(), receiver.close()]);
});

test('3,000 pulses spread round-robin over three replicas show as 3,000 on every replica', async () => {
  const codes = await pulses(3000);
  expect(Object.fromEntries(codes)).toEqual({ 204: 3000 });
  for (const replica of replicas) {
    await pollUntil(
      () => serviceOn(replica).then((body) => body?.total_pulses ?? 0),
      (total) => total === 3000,
      10_000,
    );
  }
});

test('a shared service that stops pulsing is alerted critical once, and resolved once when it pulses again', async () => {
  await pollUntil(alertsByStatus, (counts) => (counts.critical ?? 0) >= 1, 30_000, 100);
  await settle();
  expect(alertsByStatus()).toEqual({ warning: 1, degraded: 1, critical: 1 });
  await pulseUntil(() => (alertsByStatus().resolved ?? 0) >= 1);
  await settleHealthy();
  expect(alertsByStatus()).toEqual({ warning: 1, degraded: 1, critical: 1, resolved: 1 });
  // Every replica saw the same incident: each shows the service healthy again.
  for (const replica of replicas) expect((await serviceOn(replica))?.status).toBe('healthy');
});

test('the replica holding the alert lease is killed mid-incident: the resolved still arrives, once', async () => {
  await pollUntil(alertsByStatus, (counts) => (counts.critical ?? 0) >= 2, 30_000, 100);
  const leaders = [];
  for (const replica of replicas) if ((await liveOn(replica)).store.replica?.leading) leaders.push(replica);
  expect(leaders).toHaveLength(1);
  const leader = leaders[0] as DemoProcess;
  leader.child.kill('SIGKILL');
  await new Promise((resolve) => leader.child.once('exit', resolve));
  expect(alive()).toHaveLength(2);
  await pulseUntil(() => (alertsByStatus().resolved ?? 0) >= 2);
  await settleHealthy();
  expect(alertsByStatus()).toEqual({ warning: 2, degraded: 2, critical: 2, resolved: 2 });
  // One of the survivors took the lease.
  const leading = await Promise.all(alive().map(async (replica) => (await liveOn(replica)).store.replica?.leading));
  expect(leading.filter(Boolean)).toHaveLength(1);
});

test('a Redis restart crashes nothing: pulses taken meanwhile are buffered, then every replica counts them; no alert repeats', async () => {
  const survivors = alive();
  const alertsBefore = alertsByStatus();
  const totals = () => Promise.all(survivors.map((replica) => serviceOn(replica).then((body) => body?.total_pulses ?? 0)));
  const before = Math.max(...(await totals()));
  // Pulsed throughout, so that the service stays healthy and any alert would be a repeat.
  const pulsing = keepPulsing(survivors);
  try {
    await redis.stop();
    const sentBeforeOutage = pulsing.sent;
    await pollUntil(
      () => Promise.all(survivors.map((replica) => liveOn(replica).then((live) => live.store.state))),
      (states) => states.every((state) => state === 'degraded'),
      15_000,
      100,
    );
    // Pulses that only Redis could have carried to the other replica: waited for, not for a fixed
    // 2 s, in which a busy machine may answer fewer.
    await pollUntil(
      () => pulsing.sent - sentBeforeOutage,
      (count) => count > 5,
      15_000,
      100,
    );
    const sentDuringOutage = pulsing.sent - sentBeforeOutage;
    expect(sentDuringOutage).toBeGreaterThan(5);
    for (const replica of survivors) {
      const live = await liveOn(replica);
      expect(live.store.state).toBe('degraded');
      expect(live.store.errors).toBeGreaterThan(0);
      const metrics = await (await fetch(`${replica.bridgeUrl}/metrics`)).text();
      expect(Number(/^heartbeat_store_errors_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    }

    await redis.restart();
    await pollUntil(
      () => Promise.all(survivors.map((replica) => liveOn(replica).then((live) => live.store.state))),
      (states) => states.every((state) => state === 'ok'),
      15_000,
      100,
    );
    // Every pulse sent so far, on every replica: the ones each took in during the outage reached the other once Redis was back.
    const sentBy = before + pulsing.sent;
    await pollUntil(totals, (counts) => counts.every((count) => count >= sentBy && count === counts[0]), 15_000, 100);
    await settle();
    expect(alertsByStatus()).toEqual(alertsBefore);
  } finally {
    await pulsing.stop();
  }
  for (const replica of survivors) expect(replica.child.exitCode).toBeNull();
});
