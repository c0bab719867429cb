import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { xoroshiro128plus } from 'pure-rand';
import { buildSync } from 'esbuild';
import type { RestoreSummary } from '../../lib/core/state-keeper';
import type { ServiceHealth, ServiceHistory, StatusChange, StoreHealth } from '../../lib';
import { ROOT } from './child';

/** The child program of the kill-loop and one-writer tests. */
export const STORE_CHILD = '__tests__/fixtures/store-child.ts';
/** The child's `flush_interval`, in seconds: short, so a run of a second holds many flushes. */
export const CHILD_FLUSH_INTERVAL = 0.05;
/** The child's `remote_token`: its own remote services pulse with it over loopback. */
export const CHILD_REMOTE_TOKEN = 'kill-loop-token-0123456789abcdef';

/** A status change as an append saved it (before it is announced). */
export interface SavedChange {
  service: string;
  from: string;
  to: string;
  reason: string;
}

/** total_pulses and error_count of one service. */
export type Counts = readonly [totalPulses: number, errorCount: number];

/** One line of the child's stdout. `mono` is the child's monotonic clock (performance.now()), in ms. */
export type ChildLine =
  /** What the store gave back, read before anything ran (see the child for when each service is read). */
  | {
      kind: 'restored';
      mono: number;
      pid: number;
      services: Record<string, { service: ServiceHealth | null; history: ServiceHistory | null }>;
      store: StoreHealth;
      summary: RestoreSummary | null;
    }
  /** Listening on 127.0.0.1:port. */
  | { kind: 'ready'; mono: number; port: number }
  /** A status change as `manager.on('status')` heard it: after its write-ahead save. */
  | ({ kind: 'status'; mono: number } & StatusChange)
  /** The counters of every listed service, as they stand. */
  | { kind: 'counters'; mono: number; services: Record<string, Counts> }
  /** The store's append() returned true: these entries are on disk. `counters`: those of the services saved in it. */
  | { kind: 'saved'; mono: number; counters: Record<string, Counts>; remote: string[]; changes: SavedChange[] }
  /** A remote service this run created answered 204 to its first pulse. */
  | { kind: 'registered'; mono: number; service: string }
  /** SIGTERM: the counters as they stood when everything stopped, just before `manager.close()`. */
  | { kind: 'final'; mono: number; services: Record<string, Counts> }
  /** `manager.close()` returned: the final snapshot is written. */
  | { kind: 'closed'; mono: number };

export interface StoreChild {
  readonly process: ChildProcess;
  /** Every line so far, in the order written. */
  readonly lines: ChildLine[];
  /** Everything written on stderr so far. */
  stderr(): string;
  /** Resolves with the first line (from `from` on) that `match` accepts; rejects after `timeoutMs`, or if the child ends first. */
  waitFor(match: (line: ChildLine) => boolean, what: string, options?: { from?: number; timeoutMs?: number }): Promise<ChildLine>;
  /** Resolves once the child exited and its stdout is read to the end. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** {@link ended}, or a rejection naming `what` if the child is still running after `timeoutMs` (it is then killed). */
  endsWithin(timeoutMs: number, what: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, if still running; resolves once every line it wrote is read. */
  kill(): Promise<void>;
}

/**
 * Compiles the child and the library into one file in `outDir`, and returns its path. Through
 * tsx, each start compiles the library's modules again, 0.5-0.9 s before the child listens;
 * the kill loop starts it 51 times. From one esbuild bundle (esbuild is what tsx runs) it
 * listens within about 0.15 s. Express, pino and prom-client stay outside, loaded from the
 * repository's node_modules (see NODE_PATH below) as in any other test.
 */
export function bundleStoreChild(outDir: string): string {
  const outfile = join(outDir, 'store-child.js');
  buildSync({
    entryPoints: [join(ROOT, STORE_CHILD)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    outfile,
    external: ['express', 'pino', 'prom-client'],
    logLevel: 'error',
  });
  return outfile;
}

/** Starts the bundled child (`bundle`) on state directory `dir`; `seed` drives its random behaviour, `run` names its new remote services. */
export function startStoreChild(bundle: string, dir: string, seed: number, run: number): StoreChild {
  const child = spawn(process.execPath, [bundle], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_PATH: join(ROOT, 'node_modules'),
      HEARTBEAT_TEST_STORE_DIR: dir,
      HEARTBEAT_TEST_SEED: String(seed),
      HEARTBEAT_TEST_RUN: String(run),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let pending = '';
  let finished = false;
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as ChildLine);
      } catch {
        stderr += `(a stdout line that is not JSON: ${text})\n`;
      }
    }
    for (const wake of waiters) wake();
  });
  // 'close', not 'exit': what the child wrote before it died is still in the pipe until then.
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      finished = true;
      for (const wake of waiters) wake();
      resolve({ code, signal });
    });
  });

  const waitFor: StoreChild['waitFor'] = (match, what, options = {}) => {
    const { from = 0, timeoutMs = 20_000 } = options;
    return new Promise((resolve, reject) => {
      let checked = from;
      const check = (): void => {
        for (; checked < lines.length; checked++) {
          const line = lines[checked] as ChildLine;
          if (match(line)) {
            done();
            resolve(line);
            return;
          }
        }
        if (finished) {
          done();
          reject(new Error(`The store child (pid ${child.pid}) ended before ${what}, with ${describeExit(child)}. stderr: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`The store child (pid ${child.pid}) did not print ${what} within ${timeoutMs} ms. stderr: ${stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  };

  return {
    process: child,
    lines,
    stderr: () => stderr,
    waitFor,
    ended,
    endsWithin: async (timeoutMs, what) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`The store child (pid ${child.pid}) did not exit within ${timeoutMs} ms ${what}. stderr: ${stderr}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([ended, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await ended;
    },
  };
}

function describeExit(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

/**
 * A seeded generator of numbers in [0, 1) (pure-rand's xoroshiro128+): the same seed gives the
 * same numbers in the parent and the child, so a failing run can be replayed from its seed.
 */
export function seededRandom(seed: number): () => number {
  const generator = xoroshiro128plus(seed);
  return () => (generator.unsafeNext() >>> 0) / 2 ** 32;
}
