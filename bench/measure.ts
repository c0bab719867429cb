// Shared measuring helpers: interleaved rounds, medians with spreads, paired differences,
// timing and allocation per call, in-process requests, live heap, CPU time and live timers.
import { createHook } from 'node:async_hooks';
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { xoroshiro128plus } from 'pure-rand';
import inject, { type DispatchFunc, type Response } from 'light-my-request';

/** What the issue asks of a figure: a ceiling on its median, or on its median's ratio to the anchor. */
export interface Target {
  /** In the words, e.g. `≤ 1.5× floor`. */
  text: string;
  limit: number;
  /** `median`: the median at most `limit`; `median-at-least`: at least `limit` (a rate); `ratio`: the ratio to the anchor at most `limit`. */
  on: 'median' | 'median-at-least' | 'ratio';
}

export interface Figure {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** The figure this one is compared with, measured in the same run. */
  anchor?: string;
  target?: Target;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new Error('spread() of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

export function figure(name: string, unit: string, samples: readonly number[], extra: { anchor?: string; target?: Target } = {}): Figure {
  return { name, unit, ...spread(samples), ...extra };
}

/** Nearest-rank percentile, `p` in 0–100. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Per-round differences `a[i] − b[i]`, scaled: a spread of these is a paired comparison. */
export function differences(a: readonly number[], b: readonly number[], scale = 1): number[] {
  return a.map((value, round) => (value - (b[round] as number)) * scale);
}

/**
 * Runs each configuration once per round, after a discarded warm-up round unless `warmUp` is
 * false (rounds too long for a smoke test to afford one, or each in a fresh process), and
 * returns every configuration's per-round observations. Each round runs the configurations in
 * a fresh order (a seeded shuffle, the same on every run), so drift in the machine's speed
 * lands on all of them alike and none always follows the same neighbour: a rotation (A B C,
 * B C A, …) keeps C after B in every round, and C then collects B's garbage every time.
 */
export async function interleave<K extends string, T>(
  rounds: number,
  configurations: Record<K, () => T | Promise<T>>,
  warmUp = true,
): Promise<Record<K, T[]>> {
  const names = Object.keys(configurations) as K[];
  const observations = Object.fromEntries(names.map((name) => [name, [] as T[]])) as Record<K, T[]>;
  const random = seededRandom(0x5eed);
  for (let round = warmUp ? -1 : 0; round < rounds; round++) {
    for (const name of shuffled(names, random)) {
      const observation = await configurations[name]();
      if (round >= 0) observations[name].push(observation);
    }
  }
  return observations;
}

/** A deterministic generator of numbers in [0, 1) (pure-rand's xoroshiro128+): the same orders on every run, so runs compare. */
function seededRandom(seed: number): () => number {
  const generator = xoroshiro128plus(seed);
  return () => (generator.unsafeNext() >>> 0) / 2 ** 32;
}

/** A Fisher–Yates shuffle of a copy of `items`. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** `0 … count − 1` in a seeded random order, the same on every run: an order of visits fixed up front. */
export function seededOrder(count: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const random = seededRandom(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** One field of each observation, e.g. `pick(runs, 'latency')`. */
export function pick<T, F extends keyof T>(observations: readonly T[], field: F): T[F][] {
  return observations.map((observation) => observation[field]);
}

const collect = (globalThis as { gc?: () => void }).gc;

export function collectGarbage(): void {
  if (!collect) throw new Error('Run the benchmarks with node --expose-gc (npm run bench does).');
  collect();
}

/**
 * Live bytes after a full collection: heapUsed plus arrayBuffers, what is still reachable. The
 * second counts the backing stores V8 keeps off its heap: a typed array of more than 64 bytes
 * (the gap model's ring of 20 `Float64Array` gaps is 160) holds its bytes there, and heapUsed
 * alone would leave them out. It lets the event loop turn first: objects held only through
 * WeakRefs (pino's exit handlers hold its streams so) stay alive until the current job ends, and
 * would otherwise be freed in the middle of a later measurement, which would then read less than
 * nothing.
 */
export async function liveHeap(): Promise<number> {
  await nextTurn();
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Heap bytes allocated per operation: `loop(ops)` runs the operation `ops` times in its own
 * monomorphic loop. The figure is the slope of heapUsed between a run of `ops` and one of
 * `4 × ops`, which cancels the fixed cost of measuring. It needs a young generation large
 * enough that no scavenge happens inside a run (`npm run bench` passes
 * `--min-semi-space-size=64 --max-semi-space-size=64`); with Node's small default, scavenges
 * hide allocations and the figure reads 0.
 */
export function allocatedBytesPerOp(loop: (ops: number) => void, ops = 100_000): number[] {
  const heapGrowth = (count: number): number => {
    loop(count);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    loop(count);
    return process.memoryUsage().heapUsed - before;
  };
  const samples: number[] = [];
  for (let run = 0; run < 7; run++) {
    const small = heapGrowth(ops);
    const large = heapGrowth(4 * ops);
    samples.push(Math.max(0, (large - small) / (3 * ops)));
  }
  return samples;
}

/** Mean wall time per call of `operation` over `calls` sequential calls, in µs. */
export async function microsPerCall(calls: number, operation: () => unknown): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await operation();
  return ((performance.now() - started) * 1000) / calls;
}

/**
 * Warms `operation` up for `warmUpMs`, then says how many calls of it fill about
 * `budgetMs`, so that samples of fast and slow operations last alike: long enough to dwarf
 * the clock, short enough to interleave finely. The warm-up matters for the cheap
 * operations: some only reach their steady speed after several hundred calls.
 */
export async function callsFilling(budgetMs: number, operation: () => unknown, warmUpMs = 200): Promise<number> {
  const warmUpStarted = performance.now();
  let calls = 0;
  while (calls < 2 || performance.now() - warmUpStarted < warmUpMs) {
    await operation();
    calls++;
  }
  const once = (performance.now() - warmUpStarted) / calls;
  return Math.max(1, Math.min(100_000, Math.round(budgetMs / once)));
}

/** Requests injected between turns of the event loop. */
const YIELD_EVERY = 16;

/**
 * An operation that sends `GET url` to `app` in process, without a socket. It lets the event
 * loop turn every few requests: light-my-request finishes each response's socket write in a
 * setImmediate, and a loop of awaited injections lives on microtasks alone, so without those
 * turns the callbacks queue up, every response stays reachable (about 10 KB each) and the
 * collector ends up dominating the figures.
 */
export function injector(app: DispatchFunc, url: string): () => Promise<Response> {
  let sent = 0;
  return async () => {
    const response = await inject(app, { method: 'GET', url });
    if (++sent % YIELD_EVERY === 0) await nextTurn();
    return response;
  };
}

/**
 * Starts `file` (a compiled benchmark that also runs as a child) in a process of its own with
 * `args` and Node flags `execArgv`; `received` is the first message it sends back.
 */
export function forkBenchmark<T>(file: string, args: string[], execArgv: string[]): { child: ChildProcess; received: Promise<T> } {
  const child = fork(file, args, { execArgv });
  const received = new Promise<T>((resolve, reject) => {
    child.once('message', (message) => {
      resolve(message as T);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`${file} ${args.join(' ')} exited with ${String(code)} before answering`));
    });
  });
  return { child, received };
}

/** CPU time this process has used, user plus system, in µs. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Counts the timers alive now, unref'd ones included: `process.getActiveResourcesInfo()`
 * lists only the timers that keep the process alive, and the library's one timer is unref'd
 * on purpose. Timers created before `start()` are not seen.
 */
export class TimerCensus {
  private readonly live = new Set<number>();
  private readonly hook = createHook({
    init: (id, type) => {
      if (type === 'Timeout') this.live.add(id);
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });

  start(): this {
    this.hook.enable();
    return this;
  }

  stop(): void {
    this.hook.disable();
    this.live.clear();
  }

  get count(): number {
    return this.live.size;
  }
}

/** Timers that keep the process alive (ref'd), as Node lists them. */
export function refTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
