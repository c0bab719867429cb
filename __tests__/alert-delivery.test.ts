import pino from 'pino';
import { Registry } from 'prom-client';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { pollUntil } from './helpers/demo';
import { collectGarbage } from './helpers/gc';
import { captureLogger } from './helpers/logger';
import { startReceiver, type Receiver } from './helpers/receiver';

// Real receivers on loopback, real timers: what a webhook target sees.
let manager: HeartbeatManager;
let registry: Registry;
let logs: ReturnType<typeof captureLogger>;
const receivers: Receiver[] = [];

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

function dispatcher(
  targets: Array<{ url: string; name?: string; minLevel?: 'warning' | 'degraded' | 'critical' }>,
  options: Record<string, number> = {},
) {
  // Far above a loopback answer: a busy machine that held this process up past it would abort an attempt unsent.
  return new AlertDispatcher(manager, { targets, registry, timeoutMs: 2000, attempts: 3, backoffMs: 20, ...options });
}

beforeEach(() => {
  logs = captureLogger();
  manager = new HeartbeatManager({ logger: logs.logger, config: { log_level: 'info' } });
  registry = new Registry();
});
afterEach(async () => {
  void manager.close();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

it('POSTs the alert JSON with its id as the idempotency key', async () => {
  const target = await receiver();
  dispatcher([{ url: target.url, name: 'ops' }]);
  manager.heartbeat({ tag: 'save_worker', interval: 30 }).error('disk full', { critical: true });
  await pollUntil(
    () => target.received.length,
    (count) => count === 1,
    5000,
  );
  const [request] = target.received;
  expect(request?.headers['content-type']).toBe('application/json');
  expect(request?.headers['idempotency-key']).toBe(request?.body.id);
  expect(request?.body).toEqual({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    service: 'save_worker',
    status: 'critical',
    previous: 'healthy',
    time: expect.any(String),
    reason: 'critical error: disk full',
    overall_status: 'critical',
  });
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_sent_total{target="ops"} 1'), Boolean, 2000);
});

it('retries a 500 with the same id, and gives up after the last attempt', async () => {
  const target = await receiver();
  target.behave(500);
  dispatcher([{ url: target.url, name: 'flaky' }]);
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="flaky"} 1'), Boolean, 5000);
  expect(target.received).toHaveLength(3);
  expect(new Set(target.received.map((r) => r.body.id)).size).toBe(1);
});

it('does not retry a 400', async () => {
  const target = await receiver();
  target.behave(400);
  dispatcher([{ url: target.url, name: 'strict' }]);
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="strict"} 1'), Boolean, 5000);
  expect(target.received).toHaveLength(1);
});

it('times out a receiver that never answers, and retries it', async () => {
  const target = await receiver();
  target.behave('hang');
  // A second, not less: this process held up that long on a busy machine would abort an attempt before its request is in.
  dispatcher([{ url: target.url, name: 'silent' }], { timeoutMs: 1000, attempts: 2 });
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="silent"} 1'), Boolean, 5000);
  expect(target.received).toHaveLength(2);
  expect(logs.lines.some((line) => line.msg === 'Alert to silent failed: timed out after 1000 ms')).toBe(true);
});

it('lets no slow target delay another', async () => {
  const slow = await receiver();
  slow.behave('hang');
  const fast = await receiver();
  dispatcher(
    [
      { url: slow.url, name: 'slow' },
      { url: fast.url, name: 'fast' },
    ],
    { timeoutMs: 5000 },
  );
  const worker = manager.heartbeat({ tag: 'w', interval: 30 });
  worker.error('one');
  worker.pulse();
  // The fast target gets the alert and the recovery while the slow one still holds its first request.
  await pollUntil(
    () => fast.received.length,
    (count) => count === 2,
    2000,
  );
  expect(fast.received.map((r) => r.body.status)).toEqual(['warning', 'resolved']);
  expect(slow.received).toHaveLength(1);
});

it('keeps a bounded queue, dropping the oldest and counting it', async () => {
  const target = await receiver();
  target.behave('hang');
  // Seven status changes in a row would count as flapping with the default threshold.
  void manager.close();
  manager = new HeartbeatManager({ logger: logs.logger, config: { log_level: 'info', flap_threshold: 100 } });
  const alerts = dispatcher([{ url: target.url, name: 'stuck' }], { timeoutMs: 5000, queueSize: 2 });
  const worker = manager.heartbeat({ tag: 'w', interval: 30 });
  worker.error('first'); // in flight, held by the receiver
  await pollUntil(
    () => target.received.length,
    (count) => count === 1,
    2000,
  );
  for (let i = 0; i < 3; i++) {
    // The manager reports a recovery from its timer, just after the pulse: wait for it.
    const recovered = new Promise<void>((resolve) => {
      const listener = (change: { to: string }) => {
        if (change.to !== 'healthy') return;
        manager.off('status', listener);
        resolve();
      };
      manager.on('status', listener);
    });
    worker.pulse();
    await recovered; // a resolved alert
    worker.error(`again ${i}`); // a warning alert
  }
  // 1 in flight + 2 queued: of the 6 alerts behind the first, 4 were dropped.
  expect(alerts.pending).toBe(3);
  expect(await registry.metrics()).toContain('heartbeat_alerts_dropped_total 4');
  expect(logs.lines.filter((line) => line.msg === 'Alert queue for stuck is full: dropped the oldest alert')).toHaveLength(4);
});

it('never shows the webhook URL in logs or metrics', async () => {
  const target = await receiver();
  target.behave(500);
  dispatcher([{ url: target.url }]);
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="webhook-1"} 1'), Boolean, 5000);
  const everything = JSON.stringify(logs.lines) + (await registry.metrics());
  expect(everything).not.toContain('SECRET-TOKEN');
  expect(everything).not.toContain('/hooks/');
});

it('times out an attempt even when a garbage collection runs during it', async () => {
  // AbortSignal.any() over an AbortSignal.timeout() nothing else held: a collection took the
  // timeout signal, and the attempt waited forever (Node issue 57736).
  const target = await receiver();
  target.behave('hang');
  // Long enough that the collections below surely run while the attempt waits, even on a busy machine.
  dispatcher([{ url: target.url, name: 'silent' }], { timeoutMs: 1500, attempts: 1 });
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(
    () => target.received.length,
    (count) => count === 1,
    1500,
    5,
  );
  collectGarbage();
  collectGarbage();
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="silent"} 1'), Boolean, 5000);
  expect(logs.messages()).toContain('Alert to silent failed: timed out after 1500 ms');
});

it('never reads an answer: an endless body neither holds the queue nor fills memory', async () => {
  const target = await receiver();
  target.behave('endless');
  dispatcher([{ url: target.url, name: 'chatty' }], { timeoutMs: 5000, attempts: 1 });
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_sent_total{target="chatty"} 1'), Boolean, 5000);
  // The client hung up at once; what the receiver wrote meanwhile sat in socket buffers.
  await pollUntil(
    () => target.endless.hungUp,
    (count) => count === 1,
    2000,
  );
  expect(target.endless.bytes).toBeLessThan(16 * 1024 * 1024);
});

it('counts a 2xx as delivered at once, even when its body never comes: no timeout, no second delivery', async () => {
  const target = await receiver();
  target.behave('stalled-body');
  dispatcher([{ url: target.url, name: 'slow-body' }], { timeoutMs: 300, attempts: 3, backoffMs: 0 });
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_sent_total{target="slow-body"} 1'), Boolean, 5000);
  await new Promise((resolve) => setTimeout(resolve, 500)); // past the attempt's timeout: a timed-out attempt would be retried
  expect(target.received).toHaveLength(1);
  expect(await registry.metrics()).not.toContain('heartbeat_alerts_failed_total{target="slow-body"} 1');
});

it('does not follow a redirect: the alert and its headers go to the configured URL only', async () => {
  const elsewhere = await receiver();
  const target = await receiver();
  target.behave({ redirect: elsewhere.url });
  new AlertDispatcher(manager, {
    targets: [{ url: target.url, name: 'moved', headers: { 'x-api-key': 'KEY-1234' } }],
    registry,
    attempts: 3,
    backoffMs: 20,
  });
  manager.heartbeat({ tag: 'w', interval: 30 }).error('boom');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_failed_total{target="moved"} 1'), Boolean, 5000);
  expect(target.received).toHaveLength(1); // a redirect is not retried
  expect(target.received[0]?.headers['x-api-key']).toBe('KEY-1234');
  expect(elsewhere.received).toEqual([]);
  expect(logs.messages()).toContain(
    'Alert to moved failed: the receiver answered HTTP 307, a redirect: not followed, alerts go only to the configured URL',
  );
});

it('refuses a webhook URL with credentials, without echoing them', () => {
  for (const url of ['https://ops:PASSWORD-99@hooks.example.com/x', 'https://ops@hooks.example.com/x']) {
    let error: unknown;
    try {
      new AlertDispatcher(manager, { targets: [{ url }], registry });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('Invalid webhook target "webhook-1": "url" carries credentials (user:password@), which are not sent.');
    expect(message).toContain('"headers"');
    expect(message).not.toMatch(/PASSWORD-99|ops|hooks\.example/);
  }
});

it('refuses a header fetch would refuse on every POST, naming it without its value', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ 'x api key': 'SECRET-1' }, 'headers.x api key'],
    [{ authorization: 'Bearer SECRET-2\r\nx-injected: 1' }, 'headers.authorization'],
    [{ authorization: 42 }, 'headers.authorization'],
  ];
  for (const [headers, key] of cases) {
    let error: unknown;
    try {
      new AlertDispatcher(manager, {
        targets: [{ url: 'https://hooks.example.com/x', headers: headers as Record<string, string> }],
        registry,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as Error).message).toContain(`Invalid webhook target "webhook-1": "${key}" is not`);
    expect((error as Error).message).not.toMatch(/SECRET|42/);
  }
});

it('keeps delivering when the log destination throws', async () => {
  // Every "Alert sent" line throws: no unhandled rejection (jest would fail the test), and the
  // queue goes on to the next alert.
  const target = await receiver();
  void manager.close();
  const throwing = {
    write: () => {
      throw new Error('EPIPE');
    },
  };
  manager = new HeartbeatManager({ logger: pino({}, throwing), config: { log_level: 'info' } });
  dispatcher([{ url: target.url, name: 'ops' }]);
  const worker = manager.heartbeat({ tag: 'w', interval: 30 });
  worker.error('one');
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_sent_total{target="ops"} 1'), Boolean, 5000);
  worker.error('two', { critical: true });
  await pollUntil(async () => (await registry.metrics()).includes('heartbeat_alerts_sent_total{target="ops"} 2'), Boolean, 5000);
  expect(target.received.map((r) => r.body.status)).toEqual(['warning', 'critical']);
});
