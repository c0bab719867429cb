/// <reference lib="dom" />
// Issue 16's "Done when", run as a person would: `npm start` on a state directory, a worker
// stalled to critical, Ctrl-C, `npm start` again, and the same history at /history and on the
// status page, in Debian's Chromium. Then the same after a kill -9,
// a second demo on the directory refused in one line, the default directory, and no token in
// the state files.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import type { ServiceHealth, ServiceHistory } from '../lib';
import { HISTORY_SHOWN } from '../lib/page/history-script';
import { ROOT, spawnTs, waitForExit } from './helpers/child';
import { fastDemoConfig, pollUntil, startDemoProcess, untilRecorded, type DemoProcess } from './helpers/demo';
import { launchChromium } from './helpers/chromium';
import { listOf, type ListedItem } from './helpers/page-lists';

/** Fast enough to reach critical in about a second (5 intervals and a grace), slow enough for a busy machine. */
const config = fastDemoConfig(0.2);

let stateDir = '';
let browser: Browser | undefined;
const running: DemoProcess[] = [];

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'heartbeat-demo-state-'));
});
afterEach(async () => {
  for (const demo of running.splice(0)) await demo.stop();
  rmSync(stateDir, { recursive: true, force: true });
});
afterAll(async () => {
  await browser?.close();
});

async function start(launch: { viaNpm?: boolean } = {}): Promise<DemoProcess> {
  const demo = await startDemoProcess(config, { HEARTBEAT_STATE_DIR: stateDir }, launch);
  running.push(demo);
  return demo;
}

/** Stops `demo` with `signal` and forgets it: what is left is the state directory. */
async function stop(demo: DemoProcess, signal: NodeJS.Signals): Promise<number | null> {
  running.splice(running.indexOf(demo), 1);
  return (await demo.stop(signal)).code;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

const historyOf = (demo: DemoProcess, tag: string) => getJson<ServiceHistory>(`${demo.bridgeUrl}/api/health/service/${tag}/history`);
const serviceOf = (demo: DemoProcess, tag: string) => getJson<ServiceHealth>(`${demo.bridgeUrl}/api/health/service/${tag}`);

/** Stalls save_worker until it is critical, after reporting a failure of file_indexer; returns what both looked like then. */
async function stallToCritical(demo: DemoProcess) {
  const post = (path: string) => fetch(`${demo.bridgeUrl}${path}`, { method: 'POST' });
  expect((await post('/demo/services/file_indexer/fail')).status).toBe(200);
  expect((await post('/demo/services/save_worker/stall')).status).toBe(200);
  // A loaded machine may skip a step (the monitor says so in its log), never the last one.
  const saveWorker = await untilRecorded(demo, 'save_worker', 'critical');
  expect((await serviceOf(demo, 'save_worker')).status).toBe('critical');
  return {
    saveWorker,
    indexer: await historyOf(demo, 'file_indexer'),
    saveWorkerService: await serviceOf(demo, 'save_worker'),
    indexerService: await serviceOf(demo, 'file_indexer'),
  };
}

type Transition = ServiceHistory['transitions'][number];

/**
 * The same changes, in the same order, at the same times to the millisecond: a time is saved
 * as the wall time it was shown as, and shown again through one stable wall offset.
 */
function expectSameTransitions(served: Transition[], announced: Transition[]): void {
  expect(served).toEqual(announced);
}

/** What a restarted demo must serve: every transition it had, in order and once, then the time it was down as a gap. */
async function expectRestored(demo: DemoProcess, before: Awaited<ReturnType<typeof stallToCritical>>, stoppedAt: number) {
  const saveWorker = await historyOf(demo, 'save_worker');
  const count = before.saveWorker.transitions.length;
  expectSameTransitions(saveWorker.transitions.slice(0, count), before.saveWorker.transitions);
  const indexer = await historyOf(demo, 'file_indexer');
  expectSameTransitions(indexer.transitions.slice(0, before.indexer.transitions.length), before.indexer.transitions);

  // The monitor's own downtime is a gap of its own, from the last save to the restart.
  expect(saveWorker.gaps).toHaveLength(1);
  const [gap] = saveWorker.gaps as [ServiceHistory['gaps'][number]];
  const [gapStart, gapEnd] = [Date.parse(gap.start), Date.parse(gap.end)];
  expect(gap.reason).toBe('monitor offline');
  expect(gapStart).toBeGreaterThanOrEqual(Date.parse(before.saveWorker.transitions.at(-1)?.time ?? ''));
  expect(gapStart).toBeLessThanOrEqual(stoppedAt);
  expect(gapEnd).toBeGreaterThan(stoppedAt);
  expect(gapEnd).toBeLessThanOrEqual(Date.now());
  // After the restored ones only what the restart brought (the fresh worker's recovery), never one announced again.
  for (const later of saveWorker.transitions.slice(count)) expect(Date.parse(later.time)).toBeGreaterThanOrEqual(gapEnd);

  const saveWorkerService = await serviceOf(demo, 'save_worker');
  // An in-process service starts fresh, as its heartbeat does: started_at is the new start.
  expect(Date.parse(saveWorkerService.started_at ?? '')).toBeGreaterThanOrEqual(stoppedAt);
  expect(saveWorkerService.total_pulses).toBeGreaterThanOrEqual(before.saveWorkerService.total_pulses);
  const indexerService = await serviceOf(demo, 'file_indexer');
  expect(indexerService.error_count).toBeGreaterThanOrEqual(1);
  expect(indexerService.error_count).toBeGreaterThanOrEqual(before.indexerService.error_count);
  expect(indexerService.last_error).toEqual(before.indexerService.last_error);
  expect(demo.logs.some((line) => /^Restored \d+ services from the file store/.test(String(line.msg)))).toBe(true);
}

/** What a card should list from `history`: its changes and offline gaps by time (a gap after the change at its start), the last few. */
function expectedList(history: ServiceHistory): ListedItem[] {
  const items = [
    ...history.transitions.map(({ time, from, to, reason }) => ({ time, move: `${from} → ${to}`, reason, gap: false })),
    ...history.gaps.map(({ start, reason }) => ({ time: start, move: reason, reason: null, gap: true })),
  ];
  items.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || Number(a.gap) - Number(b.gap));
  return items.slice(-HISTORY_SHOWN);
}

/** The same lines in the same order, times to within 2 ms (see expectSameTransitions); a gap's wording of its length is the page's own. */
function sameList(shown: ListedItem[], expected: ListedItem[]): boolean {
  return (
    shown.length === expected.length &&
    shown.every((item, i) => {
      const want = expected[i];
      return (
        want !== undefined &&
        item.move === want.move &&
        item.gap === want.gap &&
        (item.gap || item.reason === want.reason) &&
        item.time === want.time
      );
    })
  );
}

async function launchBrowser(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}

it('npm start, a stall to critical, Ctrl-C and npm start again: the same history at /history and on the page', async () => {
  const first = await start({ viaNpm: true });
  const before = await stallToCritical(first);
  expect(await stop(first, 'SIGINT')).toBe(0);
  const stoppedAt = Date.now();
  expect(first.output()).toContain('"msg":"Stopped"');
  // A clean stop leaves one snapshot: the journals were folded into it, and the lock released.
  expect(
    readdirSync(stateDir)
      .filter((name) => !name.startsWith('.'))
      .sort(),
  ).toEqual(['state.json']);

  const second = await start({ viaNpm: true });
  await expectRestored(second, before, stoppedAt);

  // The page lists the same changes as /history: the saved ones, the time the demo was down,
  // then the restart's own; and the saved last error and counters, which a fresh start would
  // show as a dash and as a count from zero.
  const page = await (await launchBrowser()).newPage();
  try {
    await page.goto(`${second.bridgeUrl}/api/health/ui`);
    await page.waitForFunction(() => document.querySelectorAll('article.card').length === 6);
    // The fresh worker may still change (a busy machine): compared until page and /history agree.
    const seen = await pollUntil(
      async () => ({ shown: await listOf(page, 'save_worker'), expected: expectedList(await historyOf(second, 'save_worker')) }),
      ({ shown, expected }) => sameList(shown, expected),
    );
    const { shown } = seen.at(-1) as { shown: ListedItem[] };
    // Before the gap, the changes the first run announced; one gap, the restart.
    const gapAt = shown.findIndex((item) => item.gap);
    expect(gapAt).toBeGreaterThan(0);
    const announced = before.saveWorker.transitions.map(({ from, to, reason }) => ({ move: `${from} → ${to}`, reason }));
    expect(shown.slice(0, gapAt).map(({ move, reason }) => ({ move, reason }))).toEqual(announced.slice(-gapAt));
    expect(shown.filter((item) => item.gap).map(({ move }) => move)).toEqual(['monitor offline']);
    const card = (service: string, field: string) =>
      page.evaluate(
        ([name, className]) =>
          Array.from(document.querySelectorAll('article.card'))
            .find((node) => node.getAttribute('data-service') === name)
            ?.querySelector(`.${className}`)?.textContent ?? null,
        [service, field] as const,
      );
    expect(await card('file_indexer', 'error')).toBe('simulated failure in file_indexer');
    expect(Number(await card('save_worker', 'pulses'))).toBeGreaterThanOrEqual(before.saveWorkerService.total_pulses);
  } finally {
    await page.close();
  }
}, 60_000);

it('after a kill -9, serves the transitions announced before it, and takes over the dead process’s directory', async () => {
  // Started without npm: SIGKILL cannot be forwarded, so it must reach the server itself.
  const first = await start();
  const before = await stallToCritical(first);
  const pid = first.child.pid;
  expect(await stop(first, 'SIGKILL')).toBeNull();
  const stoppedAt = Date.now();

  const second = await start();
  await expectRestored(second, before, stoppedAt);
  expect(second.output()).toContain(`from process ${String(pid)}, which is no longer running`);
}, 60_000);

it('refuses a second demo on the same directory in one line naming it and the PID, and leaves the first running', async () => {
  const first = await start();
  const second = spawnTs('demo-app/server.ts', { PORT: '0', WEB_PORT: '0', HEARTBEAT_CONFIG: '', HEARTBEAT_STATE_DIR: stateDir });
  const result = await waitForExit(second);
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`${realpathSync(stateDir)} is in use by process ${String(first.child.pid)}`);
  expect(lines[0]).toContain('set it to another directory');
  expect(lines[0]).toContain('HEARTBEAT_STATE_DIR');
  expect(result.stdout).not.toContain('listening');
  expect((await serviceOf(first, 'save_worker')).status).toBeDefined();
});

it('keeps its state in ./.heartbeat under the working directory when HEARTBEAT_STATE_DIR is unset', async () => {
  const cwd = realpathSync(stateDir);
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', WEB_PORT: '0', HOST: '127.0.0.1', HEARTBEAT_CONFIG: '' };
  delete env.HEARTBEAT_STATE_DIR;
  // tsx by its path: `--import tsx` would be looked up from the working directory, which has no node_modules.
  const tsx = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, join(ROOT, 'demo-app', 'server.ts')], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = waitForExit(child);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  try {
    await pollUntil(() => stdout.includes('Web listener listening'), Boolean, 15_000);
  } finally {
    child.kill('SIGTERM');
  }
  expect((await exited).code).toBe(0);
  const stateLine = stdout.split('\n').find((line) => line.includes('"state_dir"'));
  expect(JSON.parse(stateLine ?? '{}')).toMatchObject({ state_dir: join(cwd, '.heartbeat') });
  expect(readdirSync(join(cwd, '.heartbeat'))).toContain('state.json');
});

it('keeps the token out of the state directory, as out of its output', async () => {
  const token = 'demo-state-token-0123456789abcdef';
  const demo = await startDemoProcess({ ...config, auto_register: true }, { HEARTBEAT_STATE_DIR: stateDir, HEARTBEAT_TOKEN: token });
  running.push(demo);
  const pulse = (tag: string, auth: string) =>
    fetch(`${demo.bridgeUrl}/api/health/service/${tag}/pulse`, { method: 'POST', headers: { authorization: `Bearer ${auth}` } });
  expect((await pulse('remote_client', token)).status).toBe(204);
  expect((await pulse('remote_client', `${token}-wrong`)).status).toBe(401);
  expect(await stop(demo, 'SIGTERM')).toBe(0);
  const files = readdirSync(stateDir);
  // The remote service was saved, so the files were written while the token was in use.
  expect(files).toContain('state.json');
  expect(readFileSync(join(stateDir, 'state.json'), 'utf8')).toContain('remote_client');
  for (const file of files) expect(readFileSync(join(stateDir, file), 'utf8')).not.toContain(token);
  expect(demo.output()).not.toContain(token);
});
