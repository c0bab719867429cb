import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_CONFIG } from '../demo-app/seed-config';
import { ROOT } from './helpers/child';
import {
  fastDemoConfig,
  pollUntil,
  shippedFastConfig,
  startDemoProcess,
  untilLogged,
  untilRecorded,
  type DemoProcess,
} from './helpers/demo';
import { parseSamples, promtoolCheckMetrics } from './helpers/promtool';
import { startReceiver } from './helpers/receiver';

const SEED_SERVICES = ['save_worker', 'flask_bridge', 'web_listener', 'file_indexer', 'router_tasks'];
/** The seed's services and the demo's dependency check: what `manager.tags()` lists. */
const ALL_SERVICES = [...SEED_SERVICES, 'web_listener_check'];

let demo: DemoProcess | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

it('serves the five seed services (and its dependency check) on /api/health/status and /metrics', async () => {
  demo = await startDemoProcess(fastDemoConfig(0.5));
  const { status, body } = await getJson(`${demo.bridgeUrl}/api/health/status`);
  expect(status).toBe(200);
  expect(Object.keys(body.services).sort()).toEqual([...SEED_SERVICES, 'web_listener_check'].sort());
  // Healthy once the first pulses are in: on a busy machine a 0.5 s service may start with a
  // missed beat (while tsx compiles, its first self-call is late), and that is no failure here.
  const overall = async () => (await getJson(`${demo?.bridgeUrl}/api/health/status`)).body.overall_status;
  await pollUntil(overall, (word) => word === 'healthy');

  const allHealthy = (text: string) =>
    SEED_SERVICES.every((tag) => parseSamples(text).get(`heartbeat_service_status{service="${tag}"}`) === 0);
  const metrics = (await pollUntil(async () => (await fetch(`${demo?.bridgeUrl}/metrics`)).text(), allHealthy)).at(-1) ?? '';
  expect(promtoolCheckMetrics(metrics)).toEqual({ status: 0, output: '' });

  // The bridge's pino-http log and the pulse middleware both saw the request.
  await fetch(`${demo.bridgeUrl}/`);
  const bridge = await getJson(`${demo.bridgeUrl}/api/health/service/flask_bridge`);
  expect(bridge.body.total_pulses).toBeGreaterThanOrEqual(3);
  await pollUntil(
    () => demo?.logs.some((line) => line.component === 'http' && (line.req as { url?: string } | undefined)?.url === '/'),
    Boolean,
    5000,
  );
});

it('walks a stalled worker through warning, degraded and critical, and back to healthy on resume', async () => {
  demo = await startDemoProcess(fastDemoConfig(0.2));
  const url = `${demo.bridgeUrl}/api/health/service/save_worker`;
  const stall = await fetch(`${demo.bridgeUrl}/demo/services/save_worker/stall`, { method: 'POST' });
  expect(stall.status).toBe(200);

  const seen = await pollUntil(
    async () => (await getJson(url)).body.status,
    (status) => status === 'critical',
  );
  // The reads only get worse; they are samples, and a busy test process may poll past a step.
  expect([seen[0], seen.at(-1)]).toEqual(['healthy', 'critical']);
  expect(seen).toEqual(['healthy', 'warning', 'degraded', 'critical'].filter((word) => seen.includes(word)));
  const overall = await getJson(`${demo.bridgeUrl}/api/health/status`);
  expect([overall.status, overall.body.overall_status]).toEqual([503, 'critical']);
  // A read works the status out on the spot; the monitor records and logs the change on its
  // next timer turn, which a busy machine delays. Resumed before that, the log would rightly
  // go from degraded straight back to healthy.
  const recorded = await untilRecorded(demo, 'save_worker', 'critical');
  // Its stall warning, if any, is read from stdout only once the change's own line is.
  await untilLogged(demo, 'save_worker', 'critical');
  // Every step in the monitor's record, unless a loaded machine stalled the demo's own event
  // loop: then the monitor rightly waits out the stall and may skip one, and says so in its log.
  const stalled = demo.logs.some((line) => String(line.msg).startsWith('Heartbeat monitor was stalled'));
  const steps = recorded.transitions.slice(-3).map(({ from, to }) => `${from} → ${to}`);
  if (!stalled) expect(steps).toEqual(['healthy → warning', 'warning → degraded', 'degraded → critical']);

  await fetch(`${demo.bridgeUrl}/demo/services/save_worker/resume`, { method: 'POST' });
  expect((await getJson(url)).body.status).toBe('healthy');

  // The health log, named as in the seed, told the same story, each step once.
  if (stalled) return;
  const healthLog = () =>
    (demo?.logs ?? []).filter((line) => line.name === 'smrthub.heartbeat' && line.service === 'save_worker').map((line) => line.msg);
  await pollUntil(
    () => healthLog(),
    (messages) => messages.includes('Service save_worker heartbeat: healthy'),
    5000,
  );
  expect(healthLog()).toEqual([
    'Service save_worker missed heartbeat (attempt 1/3)',
    'Service save_worker missed heartbeat (attempt 2/3)',
    'Service save_worker missed heartbeat (attempt 3/3)',
    'Service save_worker is unresponsive - marking as critical',
    'Service save_worker heartbeat: healthy',
  ]);
});

it('reports fail and crash, and refuses bad controls with JSON errors', async () => {
  demo = await startDemoProcess(fastDemoConfig(5));
  const post = (path: string) => fetch(`${demo?.bridgeUrl}${path}`, { method: 'POST' });
  expect(await (await post('/demo/services/file_indexer/fail')).json()).toEqual({
    service: 'file_indexer',
    action: 'fail',
    status: 'warning',
  });
  expect(await (await post('/demo/services/router_tasks/crash')).json()).toEqual({
    service: 'router_tasks',
    action: 'crash',
    status: 'critical',
  });
  expect((await post('/demo/services/flask_bridge/stall')).status).toBe(409);
  const slow = await post('/demo/services/flask_bridge/slow');
  expect([slow.status, await slow.json()]).toEqual([
    409,
    {
      error: 'flask_bridge pulses on every request, so it cannot be slowed; slow one of save_worker, file_indexer, router_tasks.',
      service: 'flask_bridge',
    },
  ]);
  expect((await post('/demo/services/nope/fail')).status).toBe(404);
  expect((await post('/demo/services/save_worker/explode')).status).toBe(404);
});

it('keeps the request-driven services green while idle, by calling itself', async () => {
  demo = await startDemoProcess(fastDemoConfig(0.2));
  await new Promise((resolve) => setTimeout(resolve, 300)); // longer than one interval plus grace, with no outside request
  const { body } = await getJson(`${demo.bridgeUrl}/api/health/status`);
  expect(body.services.web_listener.status).toBe('healthy');
  expect(body.services.flask_bridge.status).toBe('healthy');
});

it('calls itself on a config whose half interval is not a whole number of milliseconds', async () => {
  // 1.001 s: the self-ping's timeout is 500.5 ms, which AbortSignal.timeout refuses with a throw.
  demo = await startDemoProcess(fastDemoConfig(1.001));
  const pulses = async () => Number((await getJson(`${demo?.bridgeUrl}/api/health/service/web_listener`)).body.total_pulses);
  await pollUntil(pulses, (count) => count >= 1);
  expect(demo.child.exitCode).toBeNull();
});

it('exits 0 within 2 s of SIGTERM', async () => {
  demo = await startDemoProcess(fastDemoConfig(0.2));
  await fetch(`${demo.bridgeUrl}/api/health/status`, { headers: { connection: 'keep-alive' } });
  const result = await demo.stop();
  expect(result.code).toBe(0);
  expect(result.ms).toBeLessThan(2000);
});

it('alerts ALERT_WEBHOOK_URL when a service goes bad, and again when it recovers', async () => {
  const receiver = await startReceiver();
  try {
    demo = await startDemoProcess(fastDemoConfig(0.2), { ALERT_WEBHOOK_URL: receiver.url });
    // On a loaded machine a 0.2 s request-driven service may blink too: follow save_worker only.
    const saveWorker = () => receiver.received.filter((r) => r.body.service === 'save_worker').map((r) => r.body.status);
    await fetch(`${demo.bridgeUrl}/demo/services/save_worker/stall`, { method: 'POST' });
    await pollUntil(saveWorker, (statuses) => statuses.includes('critical'));
    await fetch(`${demo.bridgeUrl}/demo/services/save_worker/resume`, { method: 'POST' });
    const statuses = await pollUntil(saveWorker, (seen) => seen.includes('resolved'));
    // Each step, unless a loaded machine stalled the demo past one (see the stall test above);
    // its warning is read from stdout once the critical line is, not once the alert is.
    await untilLogged(demo, 'save_worker', 'critical');
    const stalled = demo.logs.some((line) => String(line.msg).startsWith('Heartbeat monitor was stalled'));
    if (!stalled) expect(statuses.at(-1)).toEqual(['warning', 'degraded', 'critical', 'resolved']);
    else expect(statuses.at(-1)?.slice(-2)).toEqual(['critical', 'resolved']);
    // SIGTERM stops every service quietly: no alert for the shutdown.
    const before = receiver.received.length;
    await demo.stop();
    demo = undefined;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(before);
  } finally {
    await receiver.close();
  }
});

describe('jobs and quiet hours', () => {
  const post = async (path: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${demo?.bridgeUrl}${path}`, { method: 'POST' });
    return { status: response.status, body: await response.json() };
  };
  const service = async (tag: string): Promise<any> => (await getJson(`${demo?.bridgeUrl}/api/health/service/${tag}`)).body;

  it('runs router_tasks as a job: each round records its duration, and a hung run breaks the configured max_runtime', async () => {
    const config = shippedFastConfig();
    expect(config.services?.router_tasks?.max_runtime).toBe(1);
    expect(SEED_CONFIG.services?.router_tasks?.max_runtime).toBe(20);
    demo = await startDemoProcess(config);

    // A round is a run of a tenth of the interval (0.25 s): begin(), the work, success().
    const runs = await pollUntil(
      async () => (await service('router_tasks')).run,
      (run) => run.last_duration_seconds !== null,
    );
    const finished = runs.at(-1);
    expect(finished).toMatchObject({ last_exit_code: 0 });
    expect(finished.last_duration_seconds).toBeGreaterThan(0.2);
    expect(finished.last_duration_seconds).toBeLessThan(1);

    // Stalled, its next run never ends: warning past max_runtime (1 s), critical past twice.
    expect((await post('/demo/services/router_tasks/stall')).status).toBe(200);
    await pollUntil(
      async () => (await service('router_tasks')).status,
      (status) => status === 'critical',
    );
    await untilRecorded(demo, 'router_tasks', 'critical');
    await untilLogged(demo, 'router_tasks', 'critical'); // so that a stall warning before it has been read too
    const stuck = (await service('router_tasks')).run;
    expect(stuck.state).toBe('running');
    const history = (await getJson(`${demo.bridgeUrl}/api/health/service/router_tasks/history`)).body;
    const reasons = history.transitions.map((t: { reason: string }) => t.reason).filter((r: string) => r.startsWith('run exceeded'));
    // Each step, unless a loaded machine stalled the demo itself past a step (see the stall test above).
    const monitorStalled = demo.logs.some((line) => String(line.msg).startsWith('Heartbeat monitor was stalled'));
    if (!monitorStalled) expect(reasons).toEqual(['run exceeded max_runtime (1s)', 'run exceeded twice max_runtime (2s)']);
    else expect(reasons.at(-1)).toBe('run exceeded twice max_runtime (2s)');

    // Resumed, the stuck run ends as a success: healthy, and its duration is the time it hung.
    expect((await post('/demo/services/router_tasks/resume')).body.status).toBe('healthy');
    const after = await service('router_tasks');
    expect(after.run.state).toBe('idle');
    expect(after.run.last_duration_seconds).toBeGreaterThanOrEqual(2);
    // At most the time since the stuck run's own start (its wall time is shown to within a few ms),
    // not since the stall: that may catch a run whose end a busy machine's timer made late.
    expect(after.run.last_duration_seconds).toBeLessThanOrEqual((Date.now() - Date.parse(stuck.started_at)) / 1000 + 0.01);
  });

  it('pauses every service for maintenance from a control, leaves them out of overall_status, and ends it', async () => {
    // Intervals of 5 s: nothing turns bad by itself within the test, so what changes is the controls'.
    demo = await startDemoProcess(fastDemoConfig(5));
    // A stalled worker's crash lasts: nothing pulses it away.
    await post('/demo/services/save_worker/stall');

    const start = await post('/demo/maintenance?minutes=5');
    expect(start.status).toBe(200);
    expect([start.body.maintenance, [...start.body.services].sort()]).toEqual([true, [...ALL_SERVICES].sort()]);
    const until = Date.parse(start.body.until);
    expect(Math.abs(until - (Date.now() + 5 * 60_000))).toBeLessThan(60_000);
    for (const tag of ALL_SERVICES) {
      expect([tag, (await service(tag)).paused]).toEqual([
        tag,
        expect.objectContaining({ reason: 'maintenance', until: start.body.until }),
      ]);
    }

    // save_worker (critical: true) crashes: its status says so, but the overall status ignores it.
    expect((await post('/demo/services/save_worker/crash')).body.status).toBe('critical');
    const during = await getJson(`${demo.bridgeUrl}/api/health/status`);
    expect([during.status, during.body.overall_status, during.body.services.save_worker.status]).toEqual([200, 'healthy', 'critical']);

    const end = await post('/demo/maintenance/end');
    expect([end.status, end.body.maintenance, [...end.body.services].sort()]).toEqual([200, false, [...ALL_SERVICES].sort()]);
    for (const tag of ALL_SERVICES) expect([tag, (await service(tag)).paused]).toEqual([tag, null]);
    const after = await getJson(`${demo.bridgeUrl}/api/health/status`);
    expect([after.status, after.body.overall_status]).toEqual([503, 'critical']);
    // Nothing left to end.
    expect((await post('/demo/maintenance/end')).body.services).toEqual([]);
  });

  it('refuses a maintenance window of a bad length with a JSON 400 naming it, and pauses nothing', async () => {
    demo = await startDemoProcess(fastDemoConfig(5));
    for (const minutes of ['abc', '0', '-5', '1441', '', 'Infinity']) {
      const answer = await post(`/demo/maintenance?minutes=${minutes}`);
      expect([minutes, answer.status, answer.body.error]).toEqual([
        minutes,
        400,
        `minutes is ${JSON.stringify(minutes)}; expected a number of minutes above 0 and at most 1440, e.g. 10.`,
      ]);
    }
    expect((await service('save_worker')).paused).toBeNull();
  });

  it('has web_listener_check depend on web_listener: suppressed_by null while the listener is healthy, the listener while it is down', async () => {
    for (const config of [shippedFastConfig(), SEED_CONFIG])
      expect(config.services?.web_listener_check?.depends_on).toEqual(['web_listener']);
    demo = await startDemoProcess(shippedFastConfig());
    const pair = async () => ({ listener: (await service('web_listener')).status, check: await service('web_listener_check') });
    const healthy = (await pollUntil(pair, (seen) => seen.listener === 'healthy' && seen.check.total_pulses > 0)).at(-1);
    expect(healthy?.check).toMatchObject({ status: 'healthy', suppressed_by: null });

    // A crash holds the listener critical until its next request (the demo calls it every second).
    const suppressedBy = async () => {
      await post('/demo/services/web_listener/crash');
      return (await service('web_listener_check')).suppressed_by;
    };
    await pollUntil(suppressedBy, (name) => name === 'web_listener');
  });
});

it('accepts remote pulses with HEARTBEAT_TOKEN, and refuses them without it', async () => {
  const token = 'demo-token-0123456789abcdef';
  demo = await startDemoProcess(fastDemoConfig(5), { HEARTBEAT_TOKEN: token });
  const pulse = (auth?: string) =>
    fetch(`${demo?.bridgeUrl}/api/health/service/router_tasks/pulse`, { method: 'POST', headers: auth ? { authorization: auth } : {} });
  expect((await pulse()).status).toBe(401);
  expect((await pulse(`Bearer ${token}`)).status).toBe(204);
});

it('keeps the token out of its output: a good bearer, a wrong one, a cookie and a ?token= query', async () => {
  const token = 'demo-token-0123456789abcdef';
  const wrong = 'wrong-token-fedcba9876543210';
  demo = await startDemoProcess(fastDemoConfig(5), { HEARTBEAT_TOKEN: token });
  const url = `${demo.bridgeUrl}/api/health/service/router_tasks/pulse`;
  const pulse = (path: string, headers: Record<string, string>) => fetch(path, { method: 'POST', headers });
  expect((await pulse(url, { authorization: `Bearer ${token}` })).status).toBe(204);
  expect((await pulse(url, { authorization: `Bearer ${wrong}` })).status).toBe(401);
  expect((await pulse(`${url}?token=${token}&access_token=${token}`, {})).status).toBe(401);
  expect((await pulse(url, { authorization: `Bearer ${token}`, cookie: `session=${token}` })).status).toBe(204);
  const pulseLogs = () => (demo?.logs ?? []).filter((line) => String((line.req as { url?: string } | undefined)?.url).includes('/pulse'));
  await pollUntil(
    () => pulseLogs().length,
    (count) => count === 4,
  );
  await demo.stop();
  const output = demo.output();
  expect(output).not.toContain(token);
  expect(output).not.toContain(wrong);
  // The lines were written, with the secrets replaced: the redaction, not silence, kept them out.
  const [good, bad, query, cookie] = pulseLogs().map((line) => line.req as { url: string; headers: Record<string, string> });
  expect(good?.headers.authorization).toBe('[Redacted]');
  expect(bad?.headers.authorization).toBe('[Redacted]');
  expect(query?.url).toBe('/api/health/service/router_tasks/pulse?token=[Redacted]&access_token=[Redacted]');
  expect(cookie?.headers.cookie).toBe('[Redacted]');
});

describe('npm start', () => {
  async function portIsFree(url: string): Promise<boolean> {
    const { port, hostname } = new URL(url);
    return new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => {
        resolve(false);
      });
      server.listen(Number(port), hostname, () => {
        server.close(() => {
          resolve(true);
        });
      });
    });
  }

  it.each(['SIGTERM', 'SIGINT'] as const)('stops the server and frees both ports within 2 s of %s to the npm process', async (signal) => {
    demo = await startDemoProcess(fastDemoConfig(0.5), {}, { viaNpm: true });
    const { bridgeUrl, webUrl } = demo;
    await fetch(`${bridgeUrl}/api/health/status`, { headers: { connection: 'keep-alive' } });
    const result = await demo.stop(signal);
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(2000);
    expect(await portIsFree(bridgeUrl)).toBe(true);
    expect(await portIsFree(webUrl)).toBe(true);
    expect(demo.output()).toContain('"msg":"Stopped"');
  });
});

it('writes readable lines on a terminal and JSON lines elsewhere', async () => {
  // `script` gives the demo a pseudo-terminal as stdout, as a person's shell would.
  const command = `${process.execPath} --import tsx demo-app/server.ts`;
  const stateDir = mkdtempSync(join(tmpdir(), 'heartbeat-demo-tty-'));
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', WEB_PORT: '0', HOST: '127.0.0.1', HEARTBEAT_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await pollUntil(() => output.includes('Web listener listening'), Boolean, 15_000);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(stateDir, { recursive: true, force: true });
  }
  expect(output).toMatch(/INFO.*\(demo\/\d+\).*Bridge server listening/);
  expect(output).not.toContain('{"level"');
  // Without a terminal (every other test here) the same lines are JSON.
});
