// `npm run screenshots` end to end: the real demo and real Chromium, into a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, waitForExit } from './helpers/child';
import { pollUntil, shippedFastConfig } from './helpers/demo';

const SCRIPT = join(ROOT, 'scripts', 'screenshots.ts');
const DEMO_SERVICES = Object.keys(shippedFastConfig().services ?? {}).sort();
const SIZES = {
  'status-page.png': { width: 1280, height: 800 },
  'status-page-phone.png': { width: 390, height: 844 },
  'status-page-dark.png': { width: 1280, height: 800 },
};

let out = '';
beforeEach(() => {
  out = mkdtempSync(join(tmpdir(), 'heartbeat-screenshots-test-'));
});
afterEach(() => {
  rmSync(out, { recursive: true, force: true });
});

/** Runs the script as `npm run screenshots` does, with `args` and extra environment. */
function startScript(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A PNG's size from its IHDR chunk, which the format puts first: width and height at bytes 16 and 20. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  expect(bytes.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Whether a process of that id still runs (signal 0 checks without sending anything). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('captures the demo with one service critical: three PNGs at their sizes, the critical card first, the demo stopped', async () => {
  const started = Date.now();
  const result = await waitForExit(startScript(['--out', out]));
  const ms = Date.now() - started;
  expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(ms).toBeLessThan(60_000);

  // stdout is the summary alone; the progress went to stderr.
  const summary = JSON.parse(result.stdout);
  expect(readdirSync(out).sort()).toEqual(Object.keys(SIZES).sort());
  for (const [file, size] of Object.entries(SIZES)) expect({ file, ...pngSize(join(out, file)) }).toEqual({ file, ...size });

  // The health API said so when the pages were opened: save_worker critical, the others healthy.
  expect(summary.demo.config).toBe('demo-app/fast-config.json');
  expect(Object.keys(summary.demo.api).sort()).toEqual(DEMO_SERVICES);
  for (const name of DEMO_SERVICES) expect([name, summary.demo.api[name]]).toEqual([name, name === 'save_worker' ? 'critical' : 'healthy']);

  // Each page showed it too: the banner names it, its card comes first (worst first), and the
  // cards are the demo's services, no fixture of a test among them.
  expect(summary.shots.map((shot: { file: string }) => shot.file)).toEqual(Object.keys(SIZES));
  expect(summary.shots.map((shot: { colorScheme: string }) => shot.colorScheme)).toEqual(['light', 'light', 'dark']);
  for (const shot of summary.shots) {
    expect(shot.banner).toContain('save_worker');
    expect(shot.cards[0]).toEqual({ name: 'save_worker', status: 'critical' });
    expect(shot.cards.map((card: { name: string }) => card.name).sort()).toEqual(DEMO_SERVICES);
    expect(shot.cards.slice(1).map((card: { status: string }) => card.status)).toEqual(Array(DEMO_SERVICES.length - 1).fill('healthy'));
  }

  // Nothing left behind: the demo has stopped by itself (not killed) and its state directory is gone.
  expect(result.stderr).not.toContain('did not stop');
  expect(running(summary.demo.pid)).toBe(false);
  expect(existsSync(summary.demo.state_dir)).toBe(false);
}, 90_000);

it('stopped midway, it stops the demo, removes its state and writes no picture', async () => {
  const script = startScript(['--out', out]);
  const exited = waitForExit(script);
  let stderr = '';
  script.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Once the demo is up and its story begun: the demo and Chromium are both running.
  await pollUntil(
    () => stderr.includes('every service healthy'),
    (seen) => seen,
    30_000,
    100,
  );
  const pid = Number(/demo started \(pid (\d+)\)/.exec(stderr)?.[1]);
  const stateDir = /state in (\S+)/.exec(stderr)?.[1] ?? '';
  expect(running(pid)).toBe(true);
  expect(existsSync(stateDir)).toBe(true);

  script.kill('SIGTERM');
  const result = await exited;
  expect(result.code).toBe(143);
  expect(stderr).toContain('SIGTERM: stopping the demo and Chromium');
  expect(stderr).not.toContain('did not stop');
  expect(running(pid)).toBe(false);
  expect(existsSync(stateDir)).toBe(false);
  expect(readdirSync(out)).toEqual([]);
}, 60_000);

it('without Chromium, it fails at once naming the browser and how to get it, before starting the demo', async () => {
  const result = await waitForExit(startScript(['--out', out], { CHROMIUM_PATH: '/nonexistent/chromium' }));
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    'screenshots: Chromium is missing: /nonexistent/chromium does not exist; run apt-get install chromium, or set CHROMIUM_PATH.\n',
  );
  expect(result.stdout).toBe('');
});

it('with a Chromium that will not start, it fails naming it, before starting the demo', async () => {
  const result = await waitForExit(startScript(['--out', out], { CHROMIUM_PATH: '/bin/false' }));
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^screenshots: Chromium \(\/bin\/false\) did not start: /);
  expect(result.stderr).not.toContain('demo started');
});

it('refuses arguments it does not know, with the usage', async () => {
  const runs = [['--out'], ['--dark'], ['--out', 'a', 'b']].map(async (args) => {
    const result = await waitForExit(startScript(args));
    return { args, code: result.code, usage: result.stderr.includes('usage: npm run screenshots [-- --out DIR]') };
  });
  for (const run of await Promise.all(runs)) expect(run).toEqual({ args: run.args, code: 1, usage: true });
});
