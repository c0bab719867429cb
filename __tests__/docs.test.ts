// Every code block of the README and the guides (docs/*.md; docs/api/ is generated) runs here,
// and a block the harness does not know how to run fails the suite. How each kind runs is in
// docs/development.md, "The code blocks in the docs".
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ALERTMANAGER_AT_RISK_ALERT, ALERTMANAGER_FLAPPING_ALERT, ALERTMANAGER_STATUS_ALERT, resolveConfig } from '../lib';
import { ROOT } from './helpers/child';
import { runCurl, type Transfer } from './helpers/curl';
import { pollUntil, startDemoProcess, type DemoProcess } from './helpers/demo';
import { anchors, codeBlocks, links, type CodeBlock } from './helpers/markdown';
import { Contract } from './helpers/openapi';
import { promtoolCheckMetrics } from './helpers/promtool';
import { startRedis, type RedisServer } from './helpers/redis-server';
import { TsModules } from './helpers/ts-modules';

const DOC_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { withFileTypes: true }).flatMap((e) =>
    e.isFile() && e.name.endsWith('.md') ? [`docs/${e.name}`] : [],
  ),
];
const LINKED_FILES = [...DOC_FILES, 'SECURITY.md', 'CHANGELOG.md'];
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const blocks = DOC_FILES.flatMap((file) => codeBlocks(file, read(file)));
const where = (block: CodeBlock): string => `${block.file}:${block.line}`;
const firstLine = (block: CodeBlock): string => block.code.split('\n')[0] ?? '';

/**
 * Blocks the harness cannot run, keyed by `file: first line`, each with its reason. Every entry
 * must still match a block. Keep it empty: a block belongs here only if no test can run it.
 */
const NOT_RUN: Record<string, string> = {
  'docs/streams.md: using System.Net.WebSockets;':
    'C#: no .NET SDK on the test machines; __tests__/ws-stream.test.ts speaks to /ws as ClientWebSocket does (a header on the upgrade, no subprotocol, text messages read whole)',
};

/**
 * What a `ts` block marked `<!-- docs-test: name -->` needs: `prelude`, code put before it that
 * defines the reader's own names it uses, and `check`, code after it that proves it did what the
 * text says. Both may use `docsTest` (the harness: `lib`, `assert`, `until`, `serve`).
 */
const TS: Record<string, { prelude?: string; check?: string }> = {
  'quick-start': {
    check: `
const base = await docsTest.serve(app);
const status = (await (await fetch(\`\${base}/api/health/status\`)).json()) as docsTest.lib.HealthStatus;
docsTest.assert.equal(status.services.flask_bridge?.status, 'healthy');
const page = await fetch(\`\${base}/api/health/ui\`);
docsTest.assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
docsTest.assert.match(await (await fetch(\`\${base}/metrics\`)).text(), /^heartbeat_service_status\\{service="flask_bridge"\\} 0$/m);`,
  },
  'save-worker-loop': {
    // The loop's 10 s interval runs on Node's mock timers, so the test advances it at once.
    prelude: `
import { mock } from 'node:test';
import { Heartbeat } from 'express-heartbeat';
mock.timers.enable({ apis: ['setInterval'] });
let saves = 0;
function processSaveQueue(): void {
  saves += 1;
  if (saves === 2) throw new Error('disk full');
}`,
    check: `
const service = () => docsTest.lib.getDefaultManager().service('save_worker');
mock.timers.tick(10_000);
docsTest.assert.deepEqual([saves, service()?.total_pulses, service()?.status], [1, 1, 'healthy']);
mock.timers.tick(10_000);
docsTest.assert.deepEqual([service()?.status, service()?.last_error?.message], ['warning', 'Error: disk full']);
mock.timers.tick(10_000);
docsTest.assert.equal(service()?.status, 'healthy');
mock.timers.reset();`,
  },
  'manager-example': {
    check: `
docsTest.assert.equal(manager.status().services.save_worker?.status, 'healthy');
docsTest.assert.equal(worker.isActive, true);
manager.close();`,
  },
  middleware: {
    check: `
const base = await docsTest.serve(app);
await fetch(\`\${base}/anything\`);
docsTest.assert.equal(docsTest.lib.getDefaultManager().service('flask_bridge')?.total_pulses, 1);`,
  },
  'own-metrics-route': {
    prelude: `
process.env.METRICS_TOKEN = 'ops-token-0123456789';`,
    check: `
const base = await docsTest.serve(app);
docsTest.assert.equal((await fetch(\`\${base}/internal/metrics\`)).status, 401);
const scraped = await fetch(\`\${base}/internal/metrics\`, { headers: { Authorization: 'Bearer ops-token-0123456789' } });
docsTest.assert.equal(scraped.headers.get('content-type'), register.contentType);
const text = await scraped.text();
docsTest.assert.equal(text, await register.metrics());
docsTest.assert.match(text, /^# TYPE heartbeat_service_status gauge$/m);
docsTest.assert.equal((await fetch(\`\${base}/metrics\`)).status, 404);`,
  },
  'dependency-check': {
    prelude: `
const manager = new docsTest.lib.HeartbeatManager();
const queries: string[] = [];
const pool = {
  query: (sql: string) => {
    queries.push(sql);
    return Promise.resolve({ rows: [{ ok: 1 }] });
  },
};`,
    check: `
const postgres = await docsTest.until(() => (manager.service('postgres')?.total_pulses ? manager.service('postgres') : undefined), 'a first run of the check');
docsTest.assert.deepEqual([queries[0], postgres.status, postgres.interval, postgres.critical], ['SELECT 1', 'healthy', 10, true]);
manager.close();`,
  },
  client: {
    check: `
docsTest.assert.ok(['healthy', 'warning', 'degraded', 'critical'].includes(status.overall_status));
docsTest.assert.equal(typeof healthy, 'boolean');
docsTest.assert.equal(worker?.service, 'save_worker');`,
  },
  alerts: {
    prelude: `
const manager = new docsTest.lib.HeartbeatManager();
const received: docsTest.lib.Alert[] = [];
const myPushoverNotifier: docsTest.lib.Notifier = {
  name: 'pushover',
  send: (alert) => {
    received.push(alert);
    return Promise.resolve();
  },
};`,
    check: `
manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
const alert = await docsTest.until(() => received[0], 'an alert for the notifier');
docsTest.assert.deepEqual([alert.service, alert.status, alert.previous], ['save_worker', 'critical', 'healthy']);
manager.close();`,
  },
  // The monitor on mocked timers and a clock of its own: a worker drifts toward its deadline.
  'alerts-at-risk': {
    prelude: `
import { mock } from 'node:test';
mock.timers.enable({ apis: ['setTimeout'] });
let now = 0;
const clock: docsTest.lib.Clock = { now: () => now, wallNow: () => Date.UTC(2026, 10, 30) + now };
const manager = new docsTest.lib.HeartbeatManager({ clock, config: { log_level: 'silent' } });
const received: docsTest.lib.Alert[] = [];
const myNtfyNotifier: docsTest.lib.Notifier = {
  name: 'ntfy',
  send: (alert) => {
    received.push(alert);
    return Promise.resolve();
  },
};`,
    check: `
const pass = (ms: number): void => {
  now += ms;
  mock.timers.tick(ms);
};
const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
worker.pulse();
for (const gap of [...Array<number>(20).fill(20), 21.5, 23, 24.5, 26, 27.5, 29, 30.5, 32]) {
  pass(gap * 1000);
  worker.pulse();
}
pass(1001);
for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
const reason = manager.service('save_worker')?.trend.reason;
docsTest.assert.deepEqual(received.map((alert) => [alert.status, alert.previous, alert.reason]), [['at_risk', 'healthy', reason]]);
mock.timers.reset();
manager.close();`,
  },
  // One Express app on loopback stands in for ntfy, Slack, Teams and Discord.
  'alert-targets': {
    prelude: `
import express from 'express';
const manager = new docsTest.lib.HeartbeatManager({ config: { log_level: 'silent' } });
const posts: { path: string; body: Record<string, any> }[] = [];
const receiver = express();
receiver.use(express.json());
receiver.use((req, res) => {
  posts.push({ path: req.path, body: req.body as Record<string, any> });
  res.status(req.path === '/teams' ? 202 : 204).end();
});
const hooks = await docsTest.serve(receiver);
process.env.NTFY_URL = hooks + '/ntfy/heartbeat-alerts';
process.env.SLACK_WEBHOOK_URL = hooks + '/slack';
process.env.TEAMS_WEBHOOK_URL = hooks + '/teams';
process.env.DISCORD_WEBHOOK_URL = hooks + '/discord';`,
    check: `
manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
await docsTest.until(() => (posts.length === 4 ? posts : undefined), 'an alert at each of the four targets');
const sent = new Map(posts.map((post) => [post.path, post.body]));
docsTest.assert.deepEqual([...sent.keys()].sort(), ['/discord', '/ntfy/', '/slack', '/teams']);
docsTest.assert.deepEqual([sent.get('/ntfy/')?.topic, sent.get('/ntfy/')?.title, sent.get('/ntfy/')?.priority], ['heartbeat-alerts', 'save_worker is critical', 5]);
docsTest.assert.equal(sent.get('/slack')?.text, '🚨 save_worker is critical: critical error: disk full');
docsTest.assert.equal(sent.get('/teams')?.attachments[0].content.type, 'AdaptiveCard');
docsTest.assert.deepEqual(sent.get('/discord')?.allowed_mentions, { parse: [] });
manager.close();`,
  },
  'health-json': {
    check: `
docsTest.assert.equal(response.headers.get('content-type'), 'application/health+json; charset=utf-8');
docsTest.assert.equal(response.status, health.status === 'fail' ? 503 : 200);
docsTest.assert.ok(Object.keys(health.checks).includes('save_worker:heartbeat'));
docsTest.assert.ok(Array.isArray(failing));`,
  },
  drain: {
    // The block's SIGTERM handler runs as a signal would run it; the module exits before its 5 s pass.
    check: `
if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
const base = \`http://127.0.0.1:\${(server.address() as import('node:net').AddressInfo).port}\`;
docsTest.assert.equal((await fetch(\`\${base}/api/health/ready\`)).status, 200);
process.emit('SIGTERM', 'SIGTERM');
const ready = await fetch(\`\${base}/api/health/ready\`);
docsTest.assert.deepEqual([ready.status, ((await ready.json()) as { status: string }).status], [503, 'draining']);
docsTest.assert.equal((await fetch(\`\${base}/api/health/live\`)).status, 200);`,
  },
  // A loopback app stands in for Alertmanager's API; alertmanager.e2e.test.ts runs the real one.
  alertmanager: {
    prelude: `
import express from 'express';
const manager = new docsTest.lib.HeartbeatManager({ config: { log_level: 'silent' } });
const posts: { path: string; body: Array<Record<string, any>> }[] = [];
const alertmanagerApp = express();
alertmanagerApp.use(express.json());
alertmanagerApp.use((req, res) => {
  posts.push({ path: req.path, body: req.body as Array<Record<string, any>> });
  res.status(200).end();
});
process.env.ALERTMANAGER_URL = await docsTest.serve(alertmanagerApp);`,
    check: `
manager.heartbeat({ tag: 'save_worker' }).start().error('disk full', { critical: true });
const post = await docsTest.until(() => posts.find((sent) => sent.body.length > 0), 'an alert at Alertmanager');
docsTest.assert.equal(post.path, '/api/v2/alerts');
docsTest.assert.deepEqual(post.body[0]?.labels, { alertname: 'HeartbeatServiceStatus', service: 'save_worker', severity: 'critical', instance: 'web-1' });
docsTest.assert.equal(post.body[0]?.generatorURL, 'https://app.example.com/api/health/ui#save_worker');
docsTest.assert.equal(post.body[0]?.annotations.description, 'critical error: disk full');
manager.close();`,
  },
  // HEARTBEAT_REDIS_URL names the real redis-server the ts blocks' beforeAll starts.
  replicas: {
    check: `
docsTest.assert.equal(manager.storeHealth().state, 'ok');
docsTest.assert.equal(store.kind, 'redis');
const backup = manager.service('nightly_backup');
docsTest.assert.equal(backup?.status, 'healthy');
docsTest.assert.equal(manager.isShared('nightly_backup'), true);
docsTest.assert.equal(manager.isShared('api_server'), false);
await manager.close();`,
  },
  'ws-server': {
    prelude: `
import WebSocket from 'ws';`,
    check: `
const { port } = await docsTest.until(() => server.address() as import('node:net').AddressInfo | null ?? undefined, 'the server listening');
const socket = new WebSocket(\`ws://127.0.0.1:\${port}/api/health/ws\`);
const first = await new Promise<string>((resolve, reject) => {
  socket.once('message', (message: Buffer) => resolve(message.toString('utf8')));
  socket.once('error', reject);
});
docsTest.assert.equal(JSON.parse(first).event, 'snapshot');
docsTest.assert.equal(JSON.parse(first).data.services[0].service, 'save_worker');
socket.terminate();
await docsTest.lib.getDefaultManager().close();`,
  },
  // On the demo, which attaches the WebSocket to its bridge server.
  'ws-client': {
    check: `
const first = await new Promise<string>((resolve, reject) => {
  socket.once('message', (message: Buffer) => resolve(message.toString('utf8')));
  socket.once('error', reject);
});
docsTest.assert.equal(JSON.parse(first).event, 'snapshot');
socket.close();`,
  },
};

interface ShSpec {
  before?: (demo: DemoProcess, token: string) => Promise<void>;
  expect?: (transfers: Transfer[]) => void;
  after?: (demo: DemoProcess, token: string) => Promise<void>;
}

/**
 * What an `sh` block marked `<!-- docs-test: name -->` needs beyond running: `before`, what the
 * reader has done first; `expect`, what the answers must say; `after`, what must hold afterwards.
 */
const SH: Record<string, ShSpec> = {
  badge: {
    expect: (transfers) => {
      expect(transfers.map((t) => [t.status, t.headers['content-type'], t.body.startsWith('<svg ')])).toEqual([
        [200, 'image/svg+xml; charset=utf-8', true],
        [200, 'image/svg+xml; charset=utf-8', true],
      ]);
    },
  },
  'demo-walkthrough': {
    // The control answers show the status right after the action, as the comments say.
    expect: (transfers) => {
      const control = (action: string): unknown =>
        (transfers.find((t) => t.method === 'POST' && t.path.endsWith(`/${action}`))?.json as { status?: string } | undefined)?.status;
      expect([control('resume'), control('fail'), control('crash')]).toEqual(['healthy', 'warning', 'critical']);
    },
  },
  'demo-slow': {
    // The slowed worker turns at risk before its first missed beat, as the text says, then resumes.
    after: async (demo) => {
      const url = `${demo.bridgeUrl}/api/health/service/save_worker`;
      const read = async () => {
        const body = (await (await fetch(url)).json()) as { status: string; trend: { at_risk: boolean } };
        return { status: body.status, at_risk: body.trend.at_risk };
      };
      const seen = await pollUntil(read, (now) => now.at_risk || now.status !== 'healthy', 60_000, 100);
      expect(seen.at(-1)).toEqual({ status: 'healthy', at_risk: true });
      expect((await fetch(`${demo.bridgeUrl}/demo/services/save_worker/resume`, { method: 'POST' })).status).toBe(200);
    },
  },
  'remote-pulses': {
    expect: (transfers) => {
      expect(transfers.map((t) => t.status)).toEqual([204, 204, 204]);
    },
    // The error and the metric were recorded; a service auto_register added is not critical.
    after: async (demo, token) => {
      const response = await fetch(`${demo.bridgeUrl}/api/health/service/csharp_client`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as {
        error_count: number;
        metrics: Record<string, number>;
        critical: boolean;
        last_error: unknown;
      };
      expect(body).toMatchObject({ error_count: 1, metrics: { queue_depth: 12 }, critical: false, last_error: { message: 'queue full' } });
    },
  },
  'remote-delete': {
    // The mistyped name the text describes has pulsed once, with auto_register on.
    before: async (demo, token) => {
      const response = await fetch(`${demo.bridgeUrl}/api/health/service/save-worker/pulse`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(204);
    },
    expect: (transfers) => {
      expect(transfers.map((t) => [t.method, t.status])).toEqual([['DELETE', 204]]);
    },
  },
};

let work: string;
let demo: DemoProcess | undefined;
const token = randomBytes(16).toString('hex');

/** The demo that `localhost:5001` names in blocks that do not start their own: fast intervals, remote pulses on. */
async function sharedDemo(): Promise<DemoProcess> {
  if (!demo) {
    const config = JSON.parse(read('demo-app/fast-config.json')) as Record<string, unknown>;
    demo = await startDemoProcess({ ...config, auto_register: true }, { HEARTBEAT_TOKEN: token });
  }
  return demo;
}

/** `localhost:5001` and `localhost:5000`, the demo's bridge and web listener, as the demo really listens. */
function onDemo(text: string, running: DemoProcess): string {
  return text.replaceAll('localhost:5001', new URL(running.bridgeUrl).host).replaceAll('localhost:5000', new URL(running.webUrl).host);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'heartbeat-docs-'));
});
afterAll(async () => {
  await demo?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('knows how to run every block', () => {
  const unknown = blocks.filter((block) => {
    if (NOT_RUN[`${block.file}: ${firstLine(block)}`]) return false;
    if (block.lang === 'ts') return block.marker !== undefined && !(block.marker in TS);
    if (block.lang === 'sh') return block.marker !== undefined && !(block.marker in SH);
    if (block.lang === 'json') return !/^(openapi-schema \w+|heartbeat-config( \S+)?|file-sd)$/.test(block.marker ?? '');
    if (block.lang === 'yaml') return !/^(prometheus-config|prometheus-rules|alertmanager-config)$/.test(block.marker ?? '');
    if (block.lang === 'text') return block.marker !== 'metrics-exposition';
    return true;
  });
  expect(unknown.map((block) => `${where(block)} \`\`\`${block.lang} ${block.marker ?? '(no docs-test marker)'}`)).toEqual([]);
  const markers = blocks.flatMap((block) => (block.marker ? [block.marker] : []));
  expect([...Object.keys(TS), ...Object.keys(SH)].filter((name) => !markers.includes(name))).toEqual([]);
  expect(Object.keys(NOT_RUN).filter((key) => !blocks.some((block) => `${block.file}: ${firstLine(block)}` === key))).toEqual([]);
});

it('keeps the README a front door: the two commands, the quick start, under 12 KB', () => {
  const readme = read('README.md');
  expect(Buffer.byteLength(readme)).toBeLessThan(12 * 1024);
  const first = blocks.find((block) => block.file === 'README.md') as CodeBlock;
  expect(first.lang).toBe('sh');
  expect(
    first.code
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('#')[0]?.trim()),
  ).toEqual(['npm install && npm start', 'npm install && npm test']);
  expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('## Quick start'));
  expect(read('.ci/run')).toContain('\nnpm install && npm test\n');
});

it('has links that lead somewhere', () => {
  const broken: string[] = [];
  for (const file of LINKED_FILES) {
    for (const { target, line } of links(read(file))) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const linked = path === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), path));
      if (!existsSync(join(ROOT, linked))) broken.push(`${file}:${line} ${target}: no file ${linked}`);
      else if (anchor !== undefined && !anchors(read(linked)).has(anchor)) broken.push(`${file}:${line} ${target}: no heading #${anchor}`);
    }
  }
  expect(broken).toEqual([]);
});

describe('ts blocks', () => {
  const tsBlocks = blocks.filter((block) => block.lang === 'ts' && !NOT_RUN[`${block.file}: ${firstLine(block)}`]);
  let modules: TsModules;
  /** Each block's module file, and the line of it where the block starts. */
  const files = new Map<CodeBlock, { file: string; codeLine: number }>();

  let redis: RedisServer | undefined;

  beforeAll(async () => {
    if (tsBlocks.some((block) => block.code.includes('HEARTBEAT_REDIS_URL'))) {
      redis = await startRedis();
      process.env.HEARTBEAT_REDIS_URL = redis.url;
    }
    modules = new TsModules(join(work, 'ts'));
    const running = tsBlocks.some((block) => block.code.includes('localhost:500')) ? await sharedDemo() : undefined;
    for (const block of tsBlocks) {
      const spec = block.marker ? TS[block.marker] : undefined;
      const prelude = spec?.prelude?.trim() ?? '';
      // The examples' webhook host becomes a closed loopback port: the network stays local, and
      // their deliveries fail at once instead of waiting on a DNS lookup.
      const code = block.code.replace(/\.listen\(\d+\)/g, '.listen(0)').replaceAll('https://hooks.example.com', 'http://127.0.0.1:9');
      const file = modules.add(
        `${block.file.replace(/\W+/g, '-')}-L${block.line}`,
        prelude,
        running ? onDemo(code, running) : code,
        spec?.check?.trim() ?? '',
      );
      files.set(block, { file, codeLine: TsModules.codeLine(prelude.split('\n').length) });
    }
  }, 60_000);

  afterAll(async () => {
    delete process.env.HEARTBEAT_REDIS_URL;
    await redis?.stop();
  });

  it('type-check together, strictly, against lib/index.ts', async () => {
    const output = await modules.typecheck();
    // Errors are named by the doc's own lines, or by the test's prelude or check for the block.
    const errors = output.replace(/^(\S+\.mts)\((\d+),\d+\)/gm, (all, name: string, line: string) => {
      const [block, entry] = [...files.entries()].find(([, entry]) => entry.file === name) ?? [];
      if (!block || !entry) return all;
      const inBlock = Number(line) - entry.codeLine;
      if (inBlock < 0) return `${where(block)} (the test's prelude for "${block.marker ?? ''}")`;
      if (inBlock >= block.code.split('\n').length - 1) return `${where(block)} (the test's check for "${block.marker ?? ''}")`;
      return `${block.file}:${block.line + 1 + inBlock}`;
    });
    expect(errors).toBe('');
  }, 120_000);

  it.each(tsBlocks.map((block) => [where(block), block] as const))(
    '%s runs',
    async (_name, block) => {
      await modules.run((files.get(block) as { file: string }).file);
    },
    60_000,
  );
});

describe('json and yaml blocks', () => {
  const marked = (lang: string, pattern: RegExp): CodeBlock[] =>
    blocks.filter((block) => block.lang === lang && pattern.test(block.marker ?? ''));

  it.each(marked('json', /^openapi-schema /).map((block) => [where(block), block] as const))(
    '%s is valid against its openapi.yaml schema',
    (_name, block) => {
      const validate = contractFor().schema((block.marker as string).split(' ')[1] as string);
      expect([validate(JSON.parse(block.code)), validate.errors]).toEqual([true, null]);
    },
  );

  it.each(marked('json', /^heartbeat-config/).map((block) => [where(block), block] as const))(
    '%s is a heartbeat config resolveConfig() accepts',
    (_name, block) => {
      const config: unknown = JSON.parse(block.code);
      expect(() => resolveConfig(config)).not.toThrow();
      const file = (block.marker as string).split(' ')[1];
      if (file) expect(config).toEqual(JSON.parse(read(file)));
    },
  );

  it.each(marked('yaml', /^prometheus-config$/).map((block) => [where(block), block] as const))(
    '%s passes promtool check config, with the shipped rules and its file_sd targets',
    async (_name, block) => {
      const dir = mkdtempSync(join(work, 'prometheus-'));
      writeFileSync(join(dir, 'prometheus.yml'), block.code);
      const config = parseYaml(block.code) as {
        rule_files?: string[];
        scrape_configs?: Array<{ file_sd_configs?: Array<{ files: string[] }> }>;
      };
      for (const rules of config.rule_files ?? []) {
        mkdirSync(join(dir, dirname(rules)), { recursive: true });
        copyFileSync(join(ROOT, 'prometheus', basename(rules)), join(dir, rules));
      }
      const targets = blocks.filter((candidate) => candidate.file === block.file && candidate.marker === 'file-sd');
      const globs = (config.scrape_configs ?? []).flatMap((job) => (job.file_sd_configs ?? []).flatMap((sd) => sd.files));
      expect(targets.length > 0).toBe(globs.length > 0);
      for (const glob of globs) {
        mkdirSync(join(dir, dirname(glob)), { recursive: true });
        targets.forEach((target, index) => {
          writeFileSync(join(dir, glob.replace('*', `docs-${index}`)), target.code);
        });
      }
      const result = await run('promtool', ['check', 'config', 'prometheus.yml'], dir);
      expect(result).toMatchObject({ code: 0 });
      expect(result.output).not.toMatch(/WARNING/);
      expect(result.output).toMatch(/SUCCESS: \d+ rules found[\s\S]*SUCCESS: \d+ rules found/);
    },
    60_000,
  );

  // Their `promtool test rules` cases, and the exposition's match with a real scrape: metrics-trend.test.ts.
  it.each(marked('yaml', /^prometheus-rules$/).map((block) => [where(block), block] as const))(
    '%s passes promtool check rules',
    async (_name, block) => {
      const dir = mkdtempSync(join(work, 'rules-'));
      writeFileSync(join(dir, 'rules.yml'), block.code);
      expect(await run('promtool', ['check', 'rules', 'rules.yml'], dir)).toMatchObject({ code: 0 });
    },
    60_000,
  );

  it.each(marked('text', /^metrics-exposition$/).map((block) => [where(block), block] as const))(
    '%s passes promtool check metrics',
    (_name, block) => {
      expect(promtoolCheckMetrics(block.code)).toEqual({ status: 0, output: '' });
    },
  );

  it.each(marked('yaml', /^alertmanager-config$/).map((block) => [where(block), block] as const))(
    '%s passes amtool check-config, and names only alerts the shipped rules or alertmanagerNotifier() define',
    async (_name, block) => {
      const dir = mkdtempSync(join(work, 'alertmanager-'));
      writeFileSync(join(dir, 'alertmanager.yml'), block.code);
      const result = await run('amtool', ['check-config', 'alertmanager.yml'], dir);
      expect(result).toMatchObject({ code: 0 });
      const rules = parseYaml(read('prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ alert?: string }> }> };
      const defined = [
        ...rules.groups.flatMap((group) => group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : []))),
        // The alerts alertmanagerNotifier() sends from the process itself.
        ALERTMANAGER_STATUS_ALERT,
        ALERTMANAGER_FLAPPING_ALERT,
        ALERTMANAGER_AT_RISK_ALERT,
      ];
      const named = [...block.code.matchAll(/alertname=~?"([^"]+)"/g)].flatMap((match) => (match[1] as string).split('|'));
      expect(named.length).toBeGreaterThan(0);
      expect(named.filter((name) => !defined.includes(name))).toEqual([]);
    },
    60_000,
  );
});

describe('sh blocks', () => {
  const shBlocks = blocks.filter((block) => block.lang === 'sh' && !NOT_RUN[`${block.file}: ${firstLine(block)}`]);

  it.each(shBlocks.map((block) => [where(block), block] as const))(
    '%s runs as written',
    async (_name, block) => {
      const spec = block.marker ? SH[block.marker] : undefined;
      const commands = block.code
        .replace(/\\\n\s*/g, '')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
      const cwd = mkdtempSync(join(work, 'sh-'));
      const transfers: Transfer[] = [];
      let own: DemoProcess | undefined;
      let used: DemoProcess | undefined;
      try {
        for (const command of commands) {
          const words = command.split(/\s+/);
          const env = Object.fromEntries(
            words
              .slice(
                0,
                words.findIndex((word) => !/^\w+=/.test(word)),
              )
              .map((word) => word.split('=') as [string, string]),
          );
          const program = words[Object.keys(env).length];
          if (program === 'npm') {
            await npmCommand(command.slice(command.indexOf('npm')), env, (started) => (own = started));
          } else if (program === 'curl') {
            const running = own ?? (await sharedDemo());
            used = running;
            if (spec?.before && transfers.length === 0) await spec.before(running, token);
            const answers = await runCurl(onDemo(command, running), cwd, { HEARTBEAT_TOKEN: token });
            transfers.push(...answers);
            expect(answers.flatMap((answer) => answerProblems(answer, contractFor()))).toEqual([]);
          } else if (program === 'promtool') {
            const result = await run('sh', ['-c', command], ROOT);
            expect(result).toMatchObject({ code: 0 });
            expect(result.output).toMatch(/SUCCESS/);
          } else if (program === 'sed') {
            await sedOnCopies(command, cwd);
          } else {
            throw new Error(
              `${where(block)}: no way to run ${JSON.stringify(command)}; teach __tests__/docs.test.ts, or list the block in NOT_RUN with a reason.`,
            );
          }
        }
        spec?.expect?.(transfers);
        if (spec?.after) await spec.after(used as DemoProcess, token);
      } finally {
        await own?.stop();
      }
    },
    90_000,
  );
});

let contract: Contract | undefined;
function contractFor(): Contract {
  contract ??= new Contract();
  return contract;
}

/** An answer under the health API must be what openapi.yaml documents; the demo's own controls answer JSON. */
function answerProblems(answer: Transfer, api: Contract): string[] {
  if (!answer.path.startsWith('/api/health')) {
    return answer.json === undefined ? [`${answer.method} ${answer.path}: not JSON: ${answer.body.slice(0, 80)}`] : [];
  }
  return api.problems({
    method: answer.method,
    path: answer.path,
    status: answer.status,
    headers: answer.headers,
    body: answer.json ?? answer.body,
  });
}

/**
 * `npm install && npm start|test` is the project's contract, checked against package.json
 * rather than run; `npm start` alone starts the demo as written, on free ports.
 */
async function npmCommand(command: string, env: Record<string, string>, started: (demo: DemoProcess) => void): Promise<void> {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const pattern = /^(npm install && )?npm (start|test|run ([\w:-]+))(\s+#.*)?$/.exec(command);
  if (!pattern) throw new Error(`No way to run ${JSON.stringify(command)}`);
  const script = pattern[3] ?? pattern[2];
  expect(Object.keys(scripts)).toContain(script);
  if (pattern[1] === undefined && script === 'start') started(await startDemoProcess({}, env, { viaNpm: true }));
}

/** A `sed -i` on files the repository ships under prometheus/: run on copies, which must change and stay valid rules. */
async function sedOnCopies(command: string, cwd: string): Promise<void> {
  const files = command.split(/\s+/).filter((word) => word.endsWith('.yml'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) copyFileSync(join(ROOT, 'prometheus', file), join(cwd, file));
  const result = await run('sh', ['-c', command], cwd);
  expect(result).toMatchObject({ code: 0 });
  expect(files.filter((file) => readFileSync(join(cwd, file), 'utf8') === read(`prometheus/${file}`))).toEqual([]);
  expect(await run('promtool', ['check', 'rules', ...files], cwd)).toMatchObject({ code: 0 });
}

function run(program: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    execFile(program, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, output: `${stdout}${stderr}` });
    });
  });
}
