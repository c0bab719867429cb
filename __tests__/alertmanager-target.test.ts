import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Alert, Notifier } from '../lib/alerts/alert';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import {
  ALERTMANAGER_FLAPPING_ALERT,
  ALERTMANAGER_MAX_ALERTS,
  ALERTMANAGER_STATUS_ALERT,
  alertmanagerNotifier,
  type AlertmanagerOptions,
} from '../lib/alerts/targets/alertmanager';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { createTestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';
import { startReceiver, type Receiver } from './helpers/receiver';
import { ReplicaHub } from './helpers/replica-hub';

// The Alertmanager target's payloads, checked on a plain receiver on loopback; the real
// Alertmanager reads them in alertmanager.e2e.test.ts.

interface Postable {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

let receiver: Receiver;
const notifiers: Notifier[] = [];

beforeEach(async () => {
  receiver = await startReceiver('/am/SECRET-TOKEN-1234');
});
afterEach(async () => {
  for (const notifier of notifiers.splice(0)) notifier.close?.();
  jest.useRealTimers();
  await receiver.close();
});

function notifier(options: Partial<AlertmanagerOptions> = {}): Notifier {
  const made = alertmanagerNotifier({ url: receiver.url, instance: 'web-1', ...options });
  notifiers.push(made);
  return made;
}

function alert(fields: Partial<Alert> & Pick<Alert, 'status' | 'time'>): Alert {
  return { id: 'id-1', service: 'save_worker', previous: 'healthy', reason: 'error: disk full', overall_status: 'warning', ...fields };
}

const send = (target: Notifier, sent: Alert): Promise<void> => target.send(sent, { signal: new AbortController().signal });
const bodies = (): Postable[][] => receiver.received.map((request) => request.body as Postable[]);
const said = (body: Postable[] | undefined): string[] =>
  (body ?? []).map((postable) => `${postable.labels.alertname}:${postable.labels.severity}:${postable.endsAt}`);

/** Waits in real time (fake timers may be on) until the receiver holds `count` requests. */
async function received(count: number): Promise<void> {
  for (let waited = 0; receiver.received.length < count; waited += 10) {
    if (waited > 5000) throw new Error(`${receiver.received.length} requests after 5 s, waiting for ${count}`);
    await realDelay(10);
  }
}

/** Fires the resend interval (fake time) every 20 ms of real time until the receiver holds `count` requests. */
async function tickUntilReceived(count: number, resendMs: number): Promise<void> {
  for (let waited = 0; receiver.received.length < count; waited += 20) {
    if (waited > 5000) throw new Error(`${receiver.received.length} requests after 5 s, waiting for ${count}`);
    jest.advanceTimersByTime(resendMs);
    await realDelay(20);
  }
}

it('POSTs a postable alert: labels, annotations, the incident start, a horizon of 4 × resendMs, the page link', async () => {
  const target = notifier({
    pageUrl: 'https://app.example.com/api/health/ui#old',
    resendMs: 30_000,
    headers: { authorization: 'Bearer t' },
  });
  const before = Date.now();
  await send(target, alert({ status: 'warning', time: '2026-01-02T03:04:05.000Z', service: 'save worker/1', affected: ['api'] }));
  const [request] = receiver.received;
  expect(request?.headers['content-type']).toBe('application/json');
  expect(request?.headers.authorization).toBe('Bearer t');
  const [postable] = request?.body as Postable[];
  expect(postable).toEqual({
    labels: { alertname: ALERTMANAGER_STATUS_ALERT, service: 'save worker/1', severity: 'warning', instance: 'web-1' },
    annotations: { summary: 'save worker/1 is warning', description: 'error: disk full', affected: 'api' },
    startsAt: '2026-01-02T03:04:05.000Z',
    endsAt: expect.any(String),
    generatorURL: 'https://app.example.com/api/health/ui#save%20worker%2F1',
  });
  const horizon = Date.parse(postable?.endsAt ?? '') - before;
  expect(horizon).toBeGreaterThanOrEqual(120_000);
  expect(horizon).toBeLessThan(125_000);

  // Without a page URL, no generatorURL.
  await send(notifier(), alert({ status: 'critical', time: '2026-01-02T03:04:05.000Z' }));
  expect(bodies()[1]?.[0]).not.toHaveProperty('generatorURL');
});

it('ends the warning and starts the critical in one POST, dated from the incident start, and ends the critical at the recovery', async () => {
  const target = notifier();
  await send(target, alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z' }));
  await send(target, alert({ id: 'id-2', status: 'critical', previous: 'warning', time: '2026-01-02T03:01:00.000Z' }));
  const escalation = bodies()[1] as Postable[];
  expect(said(escalation)).toEqual([`${ALERTMANAGER_STATUS_ALERT}:warning:2026-01-02T03:01:00.000Z`, expect.stringMatching(/:critical:/)]);
  expect(escalation.map((postable) => postable.startsAt)).toEqual(['2026-01-02T03:00:00.000Z', '2026-01-02T03:00:00.000Z']);

  // A retry of the escalation (same alert object) says the same, the warning's end included.
  const critical = alert({ id: 'id-3', status: 'critical', time: '2026-01-02T03:01:00.000Z', service: 'other' });
  await send(target, alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z', service: 'other' }));
  await send(target, critical);
  await send(target, critical);
  expect(said(bodies()[3]).map((text) => text.split(':')[1])).toEqual(['warning', 'critical']);
  expect(said(bodies()[4]).map((text) => text.split(':')[1])).toEqual(['warning', 'critical']);

  await send(target, alert({ id: 'id-4', status: 'resolved', previous: 'critical', time: '2026-01-02T03:05:00.000Z', down_seconds: 300 }));
  expect(bodies()[5]).toEqual([
    expect.objectContaining({
      labels: expect.objectContaining({ severity: 'critical' }),
      annotations: expect.objectContaining({ summary: 'save_worker recovered' }),
      startsAt: '2026-01-02T03:00:00.000Z',
      endsAt: '2026-01-02T03:05:00.000Z',
    }),
  ]);
});

it('ends every severity for a resolved it has no memory of, and dates it from down_seconds', async () => {
  await send(notifier(), alert({ status: 'resolved', previous: 'critical', time: '2026-01-02T03:05:00.000Z', down_seconds: 60 }));
  const [body] = bodies();
  expect(body?.map((postable) => postable.labels.severity)).toEqual(['warning', 'degraded', 'critical']);
  expect(new Set(body?.map((postable) => `${postable.startsAt}→${postable.endsAt}`))).toEqual(
    new Set(['2026-01-02T03:04:00.000Z→2026-01-02T03:05:00.000Z']),
  );
});

it('says flapping once as an alert of its own, ended by the service’s next alert', async () => {
  const target = notifier({ resendMs: 1000 });
  await send(target, alert({ status: 'flapping', time: '2026-01-02T03:00:00.000Z', reason: 'changed status 6 times within 600 s' }));
  const [flapping] = bodies()[0] as Postable[];
  expect(flapping?.labels).toEqual({
    alertname: ALERTMANAGER_FLAPPING_ALERT,
    service: 'save_worker',
    severity: 'warning',
    instance: 'web-1',
  });
  expect(flapping?.annotations.description).toBe('changed status 6 times within 600 s');
  await send(target, alert({ status: 'critical', time: '2026-01-02T03:10:00.000Z', reason: 'calm again after flapping, now critical' }));
  expect(said(bodies()[1])).toEqual([
    `${ALERTMANAGER_FLAPPING_ALERT}:warning:2026-01-02T03:10:00.000Z`,
    expect.stringMatching(/:critical:/),
  ]);
});

it('re-sends what the dispatcher has open every resendMs, all in one POST, and nothing after close()', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const target = notifier({ resendMs: 60_000 });
  const open: Alert[] = [alert({ status: 'critical', time: '2026-01-02T03:00:00.000Z' })];
  const reports: Array<string | null> = [];
  target.resume?.(
    () => open,
    (error) => reports.push(error && error.message),
  );
  // At once: after a restart or a takeover the last one may be most of a horizon ago.
  await received(1);
  expect(said(bodies()[0]).map((text) => text.split(':')[1])).toEqual(['critical']);

  open.push(alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z', service: 'mailer' }));
  // A tick while the last re-send is still on its way (its answer not yet read) is skipped: tick until one goes.
  await tickUntilReceived(2, 60_000);
  expect(bodies()[1]?.map((postable) => `${postable.labels.service}:${postable.labels.severity}`)).toEqual([
    'save_worker:critical',
    'mailer:warning',
  ]);

  // Nothing open (resolved, or the alert lease went to another replica): nothing is posted.
  open.length = 0;
  jest.advanceTimersByTime(60_000);
  await realDelay(100);
  expect(receiver.received).toHaveLength(2);

  open.push(alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z' }));
  target.close?.();
  jest.advanceTimersByTime(5 * 60_000);
  await realDelay(100);
  expect(receiver.received).toHaveLength(2);
  expect(jest.getTimerCount()).toBe(0);
  // Each re-send that carried alerts was reported delivered; the empty one sent nothing to report.
  expect(reports).toEqual([null, null]);
});

it(`carries at most ${ALERTMANAGER_MAX_ALERTS} open alerts in one re-send`, async () => {
  const target = notifier();
  const open = Array.from({ length: ALERTMANAGER_MAX_ALERTS + 5 }, (_, index) =>
    alert({ status: 'critical', time: '2026-01-02T03:00:00.000Z', service: `service_${index}` }),
  );
  target.resume?.(
    () => open,
    () => undefined,
  );
  await received(1);
  const [body] = bodies();
  expect(body).toHaveLength(ALERTMANAGER_MAX_ALERTS);
  expect(body?.at(-1)?.labels.service).toBe(`service_${ALERTMANAGER_MAX_ALERTS - 1}`);
});

it('dates an incident from its own start at a takeover, not from an earlier one this replica sent before losing the lease', async () => {
  // This replica alerted incident 1 (from 03:00), then lost the alert lease; the other replica
  // resolved it and alerted incident 2 (from 04:00). Taking the lease back, this one is told
  // incident 2 is open: Alertmanager keeps the earliest startsAt of a labelset, so 03:00 would stick.
  const target = notifier();
  await send(target, alert({ status: 'critical', time: '2026-01-02T03:00:00.000Z' }));
  target.resume?.(
    () => [alert({ status: 'critical', time: '2026-01-02T04:00:00.000Z' })],
    () => undefined,
  );
  await received(2);
  expect(bodies()[1]?.map((postable) => postable.startsAt)).toEqual(['2026-01-02T04:00:00.000Z']);
});

it('forgets at a takeover what it sent of a service no longer open, so that its next incident is posted from its own start', async () => {
  // Sent critical from 03:00, then the lease went to another replica, which resolved it. Taken
  // back with nothing open, then a new incident, a warning from 04:00: posted at once, on its own.
  const target = notifier();
  await send(target, alert({ status: 'critical', time: '2026-01-02T03:00:00.000Z' }));
  target.resume?.(
    () => [],
    () => undefined,
  );
  await send(target, alert({ status: 'warning', time: '2026-01-02T04:00:00.000Z' }));
  expect(bodies()[1]?.map((postable) => `${postable.labels.severity}:${postable.startsAt}`)).toEqual(['warning:2026-01-02T04:00:00.000Z']);
});

describe('options', () => {
  const secret = 'http://am.internal:9093/SECRET-PATH';

  it.each([
    ['a URL that is not http(s)', { url: 'ftp://am.internal/SECRET-PATH' }, 'url'],
    ['a URL that is not a URL', { url: 'SECRET-PATH' }, 'url'],
    ['credentials in the URL', { url: 'http://user:SECRET-PATH@am.internal:9093' }, 'url'],
    ['an unknown key', { url: secret, resend: 1000 }, 'resend'],
    ['a resendMs of 0', { url: secret, resendMs: 0 }, 'resendMs'],
    ['a fractional resendMs', { url: secret, resendMs: 1.5 }, 'resendMs'],
    ['a pageUrl that is not http(s)', { url: secret, pageUrl: 'javascript:alert(1)' }, 'pageUrl'],
    ['an empty name', { url: secret, name: '' }, 'name'],
    ['an empty instance', { url: secret, instance: '' }, 'instance'],
    ['a header that is not a string', { url: secret, headers: { authorization: 42 } }, 'headers.authorization'],
    // fetch would refuse each POST, read as a network error and retried for ever.
    ['a header name that is not a token', { url: secret, headers: { 'x api key': 'SECRET-PATH' } }, 'headers.x api key'],
    [
      'a header value with a line break',
      { url: secret, headers: { authorization: 'Bearer SECRET-PATH\nx-more: 1' } },
      'headers.authorization',
    ],
  ])('refuses %s, naming the key and never the URL', (_case, options, key) => {
    let thrown: unknown;
    try {
      alertmanagerNotifier(options as unknown as AlertmanagerOptions);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).key).toBe(key);
    expect((thrown as ConfigError).message).toContain(`"${key}"`);
    expect((thrown as ConfigError).message).not.toContain('SECRET-PATH');
  });

  it('refuses options given as a bare string without echoing it', () => {
    expect(() => alertmanagerNotifier(secret as unknown as AlertmanagerOptions)).toThrow(ConfigError);
    expect(() => alertmanagerNotifier(secret as unknown as AlertmanagerOptions)).toThrow(/^(?!.*SECRET-PATH)/s);
  });

  it('POSTs to {url}/api/v2/alerts whatever the trailing slash', async () => {
    const paths: string[] = [];
    const original = globalThis.fetch;
    const spy = jest.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return original(input, init);
    });
    try {
      await send(notifier({ url: `${receiver.url}/` }), alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z' }));
      await send(notifier({ url: receiver.url }), alert({ status: 'warning', time: '2026-01-02T03:00:00.000Z' }));
    } finally {
      spy.mockRestore();
    }
    expect(paths).toEqual(['/am/SECRET-TOKEN-1234/api/v2/alerts', '/am/SECRET-TOKEN-1234/api/v2/alerts']);
  });
});

it('never puts the URL in the logs when Alertmanager refuses or is away', async () => {
  const { logger, lines } = captureLogger();
  const manager = new HeartbeatManager({ logger, config: { log_level: 'info' } });
  try {
    receiver.behave(500);
    const away = alertmanagerNotifier({ url: 'http://127.0.0.1:1/SECRET-PATH', name: 'away' });
    new AlertDispatcher(manager, {
      targets: [{ notifier: notifier({ name: 'refusing' }) }, { notifier: away }],
      registry: new Registry(),
      timeoutMs: 1000,
      attempts: 2,
      backoffMs: 10,
    });
    manager.heartbeat({ tag: 'save_worker' }).error('disk full', { critical: true });
    for (let waited = 0; lines.filter((line) => /^Alert to .* failed/.test(line.msg)).length < 2; waited += 10) {
      if (waited > 5000) throw new Error(`no failures logged: ${JSON.stringify(lines.map((line) => line.msg))}`);
      await realDelay(10);
    }
    const text = JSON.stringify(lines);
    expect(text).toContain('Alert to refusing failed: the receiver answered HTTP 500');
    expect(text).toMatch(/Alert to away failed: network error/);
    expect(text).not.toMatch(/SECRET|127\.0\.0\.1/);
  } finally {
    void manager.close();
  }
});

it('re-sends a shared service only from the replica that holds the alert lease, and at once from the one that takes it', async () => {
  // Replicas through the in-process hub, the managers on fake time (the resend timer too); the
  // receiver stands in for Alertmanager, and a header of each replica's tells who posted.
  jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const clock = createTestClock();
  const hub = new ReplicaHub();
  const replicas = ['a', 'b'].map((instance) => {
    const replica = hub.join();
    const manager = new HeartbeatManager({ config: { flap_threshold: 50 }, clock, logger: captureLogger().logger, store: replica.store });
    const target = notifier({ instance, resendMs: 60_000, headers: { 'x-replica': instance } });
    const dispatcher = new AlertDispatcher(manager, {
      targets: [{ notifier: target, minLevel: 'critical' }],
      registry: new Registry(),
      timeoutMs: 5000,
      attempts: 1,
    });
    return { replica, manager, dispatcher };
  });
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  /** Each POST since the `from`th as `replica:service,…`. */
  const posts = (from = 0): string[] =>
    receiver.received
      .slice(from)
      .map((request) =>
        (request.body as Postable[]).map((postable) => `${String(request.headers['x-replica'])}:${postable.labels.service}`).join(','),
      );
  /** Fires the resend interval every 20 ms of real time until a POST since the `from`th is `expected`. */
  const tickUntilPosted = async (expected: string, from: number): Promise<void> => {
    for (let waited = 0; !posts(from).includes(expected); waited += 20) {
      if (waited > 5000) throw new Error(`no ${expected} after 5 s: ${JSON.stringify(posts(from))}`);
      jest.advanceTimersByTime(60_000);
      await realDelay(20);
    }
  };
  try {
    await realDelay(20); // a's takeover of the lease reads the shared notes from a promise job
    for (const { manager } of replicas) {
      manager.heartbeat({ tag: 'cron_job', interval: 10 }).start();
      manager.markRemote('cron_job');
    }
    a.manager.heartbeat({ tag: 'a_local', interval: 10 }).start().error('disk full', { critical: true });
    clock.advance(60_000); // cron_job: critical on both replicas
    await tickUntilPosted('a:a_local,a:cron_job', 0);
    // A replica's own service carries its instance; the shared one none, so that whichever
    // replica holds the lease, Alertmanager sees one labelset.
    const labelsOf = (service: string): Array<Record<string, string>> =>
      bodies().flatMap((body) => body.filter((postable) => postable.labels.service === service).map((postable) => postable.labels));
    expect(new Set(labelsOf('a_local').map((labels) => labels.instance))).toEqual(new Set(['a']));
    expect(labelsOf('cron_job').filter((labels) => 'instance' in labels)).toEqual([]);
    // b follows cron_job, critical there too, and says nothing of it.
    expect(b.manager.service('cron_job')?.status).toBe('critical');
    expect(posts().filter((post) => post.includes('b:'))).toEqual([]);

    // a's alerts, decided while it held the lease, are all delivered first.
    for (let waited = 0; a.dispatcher.pending > 0; waited += 10) {
      if (waited > 5000) throw new Error('alerts still pending after 5 s');
      await realDelay(10);
    }
    await realDelay(50); // and their answers read
    // The lease moves to b: b re-sends cron_job at once, a only its own service from then on.
    const moved = receiver.received.length;
    hub.lead(b.replica);
    await received(moved + 1);
    expect(posts(moved)).toEqual(['b:cron_job']);
    await tickUntilPosted('a:a_local', moved);
    await tickUntilPosted('b:cron_job', moved + 1);
    expect(posts(moved).filter((post) => post.includes('a:cron_job'))).toEqual([]);
    expect(labelsOf('cron_job').filter((labels) => 'instance' in labels)).toEqual([]);
  } finally {
    for (const { manager } of replicas) void manager.close();
  }
});

it('logs a run of failed re-sends once, without the URL, and when they work again', async () => {
  jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const { logger, lines } = captureLogger();
  const manager = new HeartbeatManager({ logger, clock: createTestClock(), config: { log_level: 'info' } });
  const messages = (): string[] => lines.map((line) => line.msg).filter((msg) => msg.startsWith('Re-sending'));
  try {
    new AlertDispatcher(manager, { targets: [{ notifier: notifier({ resendMs: 60_000 }) }], registry: new Registry(), attempts: 1 });
    manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
    await received(1);
    await realDelay(50); // its answer read

    receiver.behave(500);
    await tickUntilReceived(3, 60_000); // two re-sends refused
    await tickUntilReceived(4, 60_000);
    for (let waited = 0; messages().length === 0; waited += 10) {
      if (waited > 5000) throw new Error('no failure logged');
      await realDelay(10);
    }
    receiver.behave('ok');
    await tickUntilReceived(receiver.received.length + 1, 60_000);
    for (let waited = 0; messages().length < 2; waited += 10) {
      if (waited > 5000) throw new Error(`no recovery logged: ${JSON.stringify(messages())}`);
      await realDelay(10);
    }
    expect(messages()).toEqual([
      'Re-sending the open alerts to alertmanager failed: the receiver answered HTTP 500; it tries again every period',
      'Re-sending the open alerts to alertmanager works again',
    ]);
    expect(JSON.stringify(lines)).not.toContain('SECRET');
  } finally {
    void manager.close();
  }
});
