import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceHistory } from '../../lib';
import type { HeartbeatConfig } from '../../lib/core/config';
import { ROOT, spawnTs } from './child';

export interface DemoProcess {
  child: ChildProcess;
  bridgeUrl: string;
  webUrl: string;
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>;
  /** Everything the process wrote so far, stdout and stderr, as text. */
  output(): string;
  /** Sends `signal` (SIGTERM unless told) and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** The demo's five services at `seconds` intervals. */
export function fastDemoConfig(seconds: number): HeartbeatConfig {
  const services = Object.fromEntries(
    ['save_worker', 'flask_bridge', 'web_listener', 'file_indexer', 'router_tasks'].map((tag) => [
      tag,
      { interval: seconds, critical: tag !== 'web_listener' },
    ]),
  );
  return { default_interval: seconds, services };
}

/** `demo-app/fast-config.json` as shipped: the demo's services in seconds, with its job's `max_runtime` and its `depends_on`. */
export function shippedFastConfig(): HeartbeatConfig {
  return JSON.parse(readFileSync(join(ROOT, 'demo-app', 'fast-config.json'), 'utf8')) as HeartbeatConfig;
}

/**
 * Starts `npm start`'s program on free loopback ports with `config`, and waits until both
 * listeners answer. Its state goes to a temporary directory, removed at `stop()`, unless `env`
 * names a `HEARTBEAT_STATE_DIR`, which is left for the caller.
 */
export async function startDemoProcess(
  config: HeartbeatConfig,
  env: NodeJS.ProcessEnv = {},
  /** `viaNpm`: start it as a user does, through `npm start`, so signals go to npm's process. */
  launch: { viaNpm?: boolean } = {},
): Promise<DemoProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-demo-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  // A state directory of its own unless the test gives one: the demo's default, ./.heartbeat in
  // the repository, would be shared by demos running at once, and the second would be refused.
  const demoEnv = {
    PORT: '0',
    WEB_PORT: '0',
    HOST: '127.0.0.1',
    HEARTBEAT_CONFIG: configPath,
    HEARTBEAT_STATE_DIR: join(dir, 'state'),
    // No drain after SIGTERM unless the test asks for one: the demo's 2 s would slow every stop.
    SHUTDOWN_DELAY_MS: '0',
    ...env,
  };
  const child = launch.viaNpm
    ? spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, ...demoEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawnTs('demo-app/server.ts', demoEnv);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const urls = await new Promise<{ bridgeUrl: string; webUrl: string }>((resolve, reject) => {
    let buffered = '';
    let bridgeUrl = '';
    let webUrl = '';
    const timer = setTimeout(() => {
      reject(new Error(`The demo did not start within 15 s. stderr: ${stderr}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer); // a demo that refused to start must not hold the test run for 15 s
      rmSync(dir, { recursive: true, force: true });
      reject(new Error(`The demo exited with ${code} before listening. stderr: ${stderr}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (String(entry.msg).startsWith('Bridge server listening')) bridgeUrl = String(entry.url);
        if (String(entry.msg).startsWith('Web listener listening')) webUrl = String(entry.url);
      }
      if (bridgeUrl && webUrl) {
        clearTimeout(timer);
        resolve({ bridgeUrl, webUrl });
      }
    });
  });
  return {
    child,
    ...urls,
    logs,
    output: () => output,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        const started = Date.now();
        // Gone already (an exit, or a kill -9 the test gave): its 'exit' event has fired.
        if (child.exitCode !== null || child.signalCode !== null) {
          rmSync(dir, { recursive: true, force: true });
          resolve({ code: child.exitCode, ms: 0 });
          return;
        }
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', (code) => {
          clearTimeout(killer);
          rmSync(dir, { recursive: true, force: true });
          resolve({ code, ms: Date.now() - started });
        });
        child.kill(signal);
      }),
  };
}

/**
 * Polls `read` every `everyMs` (a fraction of a second) until `done` holds, recording each
 * distinct value seen; fails after `timeoutMs`.
 */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (seen.length === 0 || JSON.stringify(seen[seen.length - 1]) !== JSON.stringify(value)) seen.push(value);
    if (done(value)) return seen;
    if (Date.now() > deadline) throw new Error(`Gave up after ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Waits until `tag`'s history ends in a change to `status`, and returns that history. A read of
 * the service works its status out on the spot, but the monitor records (and logs) the change on
 * its next timer turn, which a busy machine delays: a test that acts on the history or the log
 * waits for this, not for the status.
 */
export async function untilRecorded(demo: DemoProcess, tag: string, status: string): Promise<ServiceHistory> {
  const url = `${demo.bridgeUrl}/api/health/service/${tag}/history`;
  const seen = await pollUntil(
    async () => (await (await fetch(url)).json()) as ServiceHistory,
    (history) => history.transitions.at(-1)?.to === status,
  );
  return seen.at(-1) as ServiceHistory;
}

/**
 * Waits until the demo has logged `tag`'s change to `status` (the monitor's health log line).
 * Every line written before it, any stall warning ("Heartbeat monitor was stalled …") of the
 * turns that led to the change included, is in `demo.logs` then: one stream, in order. An HTTP
 * answer (a read, the history, an alert) may overtake them, so a test checks the log for a
 * stall after this, not after that answer.
 */
export async function untilLogged(demo: DemoProcess, tag: string, status: string): Promise<void> {
  await pollUntil(() => demo.logs.some((line) => line.service === tag && line.status === status), Boolean);
}
