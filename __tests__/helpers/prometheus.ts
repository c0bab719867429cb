import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument, isMap, isSeq, type YAMLMap } from 'yaml';

/** A real `prometheus` server (Debian's package, installed by `npm test`) on a loopback port. */
export interface PrometheusProcess {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Where the config, the rule files and the TSDB live; removed by stop(). */
  dir: string;
  /** The server's log so far (logfmt on stderr), for failure messages. */
  log(): string;
  /** GET {url}{path} and the `data` of a `status: success` answer; throws on anything else. */
  api<T = unknown>(path: string): Promise<T>;
  /** Instant query: /api/v1/query. */
  query(expr: string): Promise<PromSample[]>;
  /** Pending and firing alerts: /api/v1/alerts. */
  alerts(): Promise<PromAlert[]>;
  /** The loaded rule groups: /api/v1/rules. */
  rules(): Promise<PromRuleGroup[]>;
  /** SIGTERM, SIGKILL after `graceMs`, then removes `dir`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface PromRule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  duration?: number;
  lastEvaluation: string;
}

export interface PromRuleGroup {
  name: string;
  file: string;
  rules: PromRule[];
}

/** A port that was free a moment ago: listen on 0 on loopback, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server process started by {@link launchServer}, ready. */
export interface LaunchedServer {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Its stderr so far. */
  log: () => string;
  /** SIGTERM, SIGKILL after `graceMs`, then removes its dir. Safe to call twice. */
  stop: (graceMs?: number) => Promise<void>;
}

/**
 * Starts `program` (Prometheus, Alertmanager: servers with a `/-/ready` endpoint) listening on
 * 127.0.0.1:`port`, with `dir` as its working directory, and resolves once /-/ready answers
 * 200; `port taken` if it exited saying so, for the caller to try another. `missing` says how to
 * install it, if it cannot run.
 */
export async function launchServer(options: {
  program: string;
  args: string[];
  dir: string;
  port: number;
  timeoutMs: number;
  missing: string;
}): Promise<LaunchedServer | 'port taken'> {
  const { program, args, dir, port, timeoutMs, missing } = options;
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(program, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async (graceMs = 5000): Promise<void> => {
    if (!exited()) {
      const gone = new Promise<void>((resolve) =>
        child.once('exit', () => {
          resolve();
        }),
      );
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`${program} could not run (${spawnError.message}); ${missing}`);
    if (exited()) {
      if (/address already in use/i.test(log)) return 'port taken';
      throw new Error(`${program} exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      async (response) => {
        await response.body?.cancel();
        return response.status === 200;
      },
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${program} was not ready within ${timeoutMs} ms:\n${log}`);
    }
    await sleep(100);
  }
  return { child, url, log: () => log, stop };
}

/**
 * Writes `files` (name → content; `prometheus.yml` is the config) into a temp dir and starts
 * `prometheus` on a free loopback port with its TSDB in that dir; resolves once /-/ready
 * answers 200. A port taken in between is retried with another.
 */
export function startPrometheus(files: Record<string, string>, timeoutMs = 20_000): Promise<PrometheusProcess> {
  return startInTempDir('prometheus', files, (dir, port) => launch(dir, port, timeoutMs));
}

/**
 * Writes `files` (name → content) into a new temp dir and calls `launch` with it and a free
 * loopback port, retrying with another port (three times in all) while it answers `port taken`.
 * The dir is removed if it fails; the started server's `stop()` removes it otherwise.
 */
export async function startInTempDir<T>(
  program: string,
  files: Record<string, string>,
  launch: (dir: string, port: number) => Promise<T | 'port taken'>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `heartbeat-${program}-`));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(dir, port);
      if (started !== 'port taken') return started;
      if (attempt === 3) throw new Error(`${program} found its port taken three times in a row`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(dir: string, port: number, timeoutMs: number): Promise<PrometheusProcess | 'port taken'> {
  const started = await launchServer({
    program: 'prometheus',
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
    port,
    timeoutMs,
    missing: "npm test installs Debian's prometheus package through scripts/ensure-system-deps.js.",
  });
  if (started === 'port taken') return started;
  const { child, url, log, stop } = started;

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`GET ${path}: ${response.status} ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    child,
    url,
    dir,
    log,
    api,
    query: async (expr) =>
      (await api<{ resultType: string; result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    rules: async () => (await api<{ groups: PromRuleGroup[] }>('/api/v1/rules')).groups,
    stop,
  };
}

/** Seconds in a Prometheus duration such as `30s`, `1m`, `1m30s` or `500ms`. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text)
    throw new Error(`Not a Prometheus duration: ${JSON.stringify(text)}`);
  return parts.reduce((sum, part) => sum + Number(part[1]) * (units[part[2] as string] as number), 0);
}

/**
 * A copy of a rules file with every `for:` divided by `divisor` (at least `minimumMs`), for
 * tests that cannot wait a minute. Everything else, the expressions above all, is unchanged.
 */
export function shortenFor(rulesYaml: string, divisor: number, minimumMs = 1000): string {
  const document = parseDocument(rulesYaml);
  const groups = document.get('groups');
  if (!isSeq(groups)) throw new Error('A rules file has a list of groups');
  for (const group of groups.items) {
    const rules = (group as YAMLMap).get('rules');
    if (!isSeq(rules)) continue;
    for (const rule of rules.items) {
      if (!isMap(rule) || !rule.has('for')) continue;
      const ms = Math.max(minimumMs, Math.round((parseDuration(String(rule.get('for'))) * 1000) / divisor));
      rule.set('for', `${ms}ms`);
    }
  }
  return document.toString();
}
