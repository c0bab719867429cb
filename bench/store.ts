// The file store (issue 16): the cost of one flush at 1,000 and 10,000 services, the time a
// restart takes to load 10,000 services, the bytes a service leaves on disk after months at
// the caps, and pulse() with a file store beside pulse() without one. Real files, in a
// temporary directory on the machine's own disk.
//
// The restart and the months at the caps run in child processes (this file, forked): a
// restart is a fresh process, and the simulated months replace the global setTimeout.
import { createHook } from 'node:async_hooks';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HeartbeatManager, fileStore, type Clock, type Heartbeat, type HeartbeatConfig, type HeartbeatStore } from '../lib';
import { allocatedBytesPerOp, cpuMicros, figure, forkBenchmark, interleave, type Figure } from './measure';

const FLUSH_SIZES = [1_000, 10_000];
const RESTART_SIZE = 10_000;
/** An interval no round comes near: the services stay healthy, so the flush is the monitor timer's only work. */
const QUIET_INTERVAL_S = 600;

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'heartbeat-bench-store-'));
}

/** Bytes of the files directly in `dir` (a state directory has no subdirectories). */
function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) bytes += statSync(join(dir, name)).size;
  return bytes;
}

function tags(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `service_${i}`);
}

// ---------------------------------------------------------------------------------------------
// One flush

interface FlushTurn {
  cpuMs: number;
  wallMs: number;
  /** The journal passed its threshold during this flush, and the flush took the whole state for the snapshot. */
  compacted: boolean;
}

/**
 * A file store, and what its last `append()` was given: how many entries, and whether it asked
 * for the whole state (a compaction). The manager sees a `HeartbeatStore`, as any backend is.
 */
function observedFileStore(dir: string): { store: HeartbeatStore; last: { entries: number; compacted: boolean } } {
  const inner = fileStore({ dir });
  const last = { entries: 0, compacted: false };
  const store: HeartbeatStore = {
    kind: inner.kind,
    load: (context) => inner.load(context),
    append: (entries, snapshot) => {
      last.entries = entries.length;
      return inner.append(entries, () => {
        last.compacted = true;
        return snapshot();
      });
    },
    health: () => inner.health(),
    close: (snapshot) => inner.close(snapshot),
  };
  return { store, last };
}

/**
 * Times `rounds` flushes of `size` services that all pulsed since the flush before, so that
 * every one is saved. The flush runs where it always runs, on the monitor's one timer every
 * `flush_interval` (1 s), and nothing else is due on that timer meanwhile (the services'
 * next deadline is minutes away). An async hook reads CPU time and wall time just before and
 * just after each firing of a `Timeout`; the firing in which the store was handed a batch of
 * `size` entries is the flush. So the figure is the whole flush, from the walk over the
 * services to the journal's fdatasync, plus the scheduler's own few steps around it.
 */
async function measureFlushes(size: number, rounds: number): Promise<FlushTurn[]> {
  const dir = temporaryDirectory();
  const { store, last } = observedFileStore(dir);
  const timeouts = new Set<number>();
  const turns: FlushTurn[] = [];
  let startCpu = 0;
  let startWall = 0;
  let flushed: (() => void) | undefined;
  const hook = createHook({
    init: (id, type) => {
      if (type === 'Timeout') timeouts.add(id);
    },
    before: (id) => {
      if (!timeouts.has(id)) return;
      last.entries = 0;
      last.compacted = false;
      startWall = performance.now();
      startCpu = cpuMicros();
    },
    after: (id) => {
      if (!timeouts.has(id)) return;
      const cpuMs = (cpuMicros() - startCpu) / 1000;
      const wallMs = performance.now() - startWall;
      if (last.entries < size) return; // another timer, or a flush that found less to save
      turns.push({ cpuMs, wallMs, compacted: last.compacted });
      flushed?.();
    },
    destroy: (id) => {
      timeouts.delete(id);
    },
  });
  // Before the manager arms its timer, so that every firing of it is seen.
  hook.enable();
  const manager = new HeartbeatManager({ config: { log_level: 'silent' }, store });
  const heartbeats: Heartbeat[] = tags(size).map((tag) => manager.heartbeat({ tag, interval: QUIET_INTERVAL_S }).start());
  // The monitor's timer is unref'd: this one keeps the process alive while it waits for the flushes.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    for (let round = 0; round < rounds; round++) {
      const next = new Promise<void>((resolve) => (flushed = resolve));
      for (const heartbeat of heartbeats) heartbeat.pulse();
      await next;
    }
  } finally {
    hook.disable();
    clearInterval(keepAlive);
    void manager.close();
    await nextTurn();
    rmSync(dir, { recursive: true, force: true });
  }
  return turns;
}

async function flushFigures(quick: boolean): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of FLUSH_SIZES) {
    // A flush comes once a second: the quick run, a smoke test, waits for few.
    const warmUp = quick ? 1 : 2;
    const turns = (await measureFlushes(size, warmUp + (quick ? 3 : 30))).slice(warmUp);
    const label = size.toLocaleString('en-US');
    const plain = turns.filter((turn) => !turn.compacted);
    const compacting = turns.filter((turn) => turn.compacted);
    const target = size === 10_000 ? { target: { text: '≤ 20 ms', limit: 20, on: 'median' as const } } : {};
    if (plain.length > 0) {
      figures.push(
        figure(
          `flush at ${label} services, CPU`,
          'ms',
          plain.map((turn) => turn.cpuMs),
          target,
        ),
      );
      figures.push(
        figure(
          `flush at ${label} services, wall`,
          'ms',
          plain.map((turn) => turn.wallMs),
        ),
      );
    }
    if (compacting.length > 0) {
      figures.push(
        figure(
          `flush at ${label} that compacts, CPU`,
          'ms',
          compacting.map((turn) => turn.cpuMs),
        ),
      );
      figures.push(
        figure(
          `flush at ${label} that compacts, wall`,
          'ms',
          compacting.map((turn) => turn.wallMs),
        ),
      );
    }
    figures.push(figure(`flushes at ${label} that compact`, '%', [(100 * compacting.length) / turns.length]));
    figures.push(
      figure(
        `flush at ${label} services, CPU, compactions included`,
        'ms',
        turns.map((turn) => turn.cpuMs),
      ),
    );
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Restart

interface Loaded {
  wallMs: number;
  cpuMs: number;
  services: number;
  entries: number;
  dirBytes: number;
}

/**
 * Child: fills `dir` as a `kill -9` leaves it, the same on every run: `size` services that
 * each reported an error and recovered, every change and its counters in the journal, which
 * ends just under the 8 MiB that would compact it (at 10,000 services), so a restart replays
 * all of it and compacts nothing. The errors are saved one append each, the recoveries in the
 * one append of the timer turn that finds them; the hourly flush stays out of the way. Answers
 * once the recoveries are saved, and waits to be killed.
 */
function fillForCrash(dir: string, size: number): void {
  const manager = new HeartbeatManager({ config: { log_level: 'silent', flush_interval: 3600 }, store: fileStore({ dir }) });
  const heartbeats = tags(size).map((tag) => manager.heartbeat({ tag, interval: QUIET_INTERVAL_S }).start());
  for (const heartbeat of heartbeats) heartbeat.error('disk full');
  let recovered = 0;
  manager.on('status', (change) => {
    if (change.to === 'healthy' && ++recovered === size) {
      // Saved before this listener heard of any of them.
      process.send?.({ dirBytes: directoryBytes(dir) });
    }
  });
  for (const heartbeat of heartbeats) heartbeat.pulse();
  // Kept alive until killed: the monitor's timer is unref'd.
  setInterval(() => undefined, 60_000);
}

/** Child: times `new HeartbeatManager` on `dir`, the whole of a restart's reading and replaying. */
function loadOnce(dir: string): Loaded {
  const dirBytes = directoryBytes(dir);
  const cpuBefore = cpuMicros();
  const started = performance.now();
  const manager = new HeartbeatManager({ config: { log_level: 'silent' }, store: fileStore({ dir }) });
  const wallMs = performance.now() - started;
  const cpuMs = (cpuMicros() - cpuBefore) / 1000;
  const restored = manager.restored;
  void manager.close();
  return { wallMs, cpuMs, services: restored?.services ?? 0, entries: restored?.entries ?? 0, dirBytes };
}

async function restartFigures(quick: boolean): Promise<Figure[]> {
  const crashed = temporaryDirectory();
  const clean = temporaryDirectory();
  try {
    const { child, received } = forkBenchmark<{ dirBytes: number }>(__filename, ['fill', crashed, String(RESTART_SIZE)], []);
    await received;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The clean stop: the same state compacted into state.json by a restart and a close().
    cpSync(crashed, clean, { recursive: true });
    await loadInChild(clean);

    const kinds = { 'after kill -9': crashed, 'after close()': clean };
    const observed = await interleave(
      quick ? 2 : 11,
      {
        'after kill -9': () => loadCopyInChild(kinds['after kill -9']),
        'after close()': () => loadCopyInChild(kinds['after close()']),
      },
      false,
    );
    const figures: Figure[] = [];
    for (const [kind, loads] of Object.entries(observed) as [keyof typeof kinds, Loaded[]][]) {
      const first = loads[0] as Loaded;
      if (first.services !== RESTART_SIZE) throw new Error(`The restart ${kind} restored ${first.services} services, not ${RESTART_SIZE}`);
      const shape = `${(first.dirBytes / 1024 / 1024).toFixed(1)} MB, ${first.entries.toLocaleString('en-US')} journal entries`;
      figures.push(
        figure(
          `load of ${RESTART_SIZE.toLocaleString('en-US')} services ${kind} (${shape}), wall`,
          'ms',
          loads.map((load) => load.wallMs),
          {
            target: { text: '≤ 500 ms', limit: 500, on: 'median' },
          },
        ),
      );
      figures.push(
        figure(
          `load of ${RESTART_SIZE.toLocaleString('en-US')} services ${kind}, CPU`,
          'ms',
          loads.map((load) => load.cpuMs),
        ),
      );
    }
    return figures;
  } finally {
    rmSync(crashed, { recursive: true, force: true });
    rmSync(clean, { recursive: true, force: true });
  }
}

function loadInChild(dir: string): Promise<Loaded> {
  return forkBenchmark<Loaded>(__filename, ['load', dir], []).received;
}

/** Loads a copy of `dir` in a fresh process: a load compacts its directory as it closes, and every round must read the same files. */
async function loadCopyInChild(dir: string): Promise<Loaded> {
  const copy = temporaryDirectory();
  try {
    cpSync(dir, copy, { recursive: true });
    return await loadInChild(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Months at the caps

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
/** Enough days that the 90 days of rollups kept by default are all full. */
const SIMULATED_DAYS = 92;
/** Outages in the last 7 days: two transitions each, so history passes the default cap of 1,000. */
const LAST_WEEK_OUTAGES = 520;

/**
 * Timers on a simulated clock, in place of the global setTimeout and clearTimeout: `advanceTo`
 * fires every timer due by then in order, with the clock reading each one's own time, as a
 * running process would see it (so the monitor notices no stall). Months pass in seconds.
 */
class SimulatedTime {
  private now = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; run: () => void }>();
  readonly clock: Clock;

  constructor(wallOrigin: number) {
    this.clock = { now: () => this.now, wallNow: () => wallOrigin + this.now };
  }

  install(): void {
    const timeout = (run: () => void, delay = 0): object => {
      const id = this.nextId++;
      this.pending.set(id, { at: this.now + Math.max(1, delay), run });
      const handle = { id, unref: () => handle, ref: () => handle, hasRef: () => false, [Symbol.toPrimitive]: () => id };
      return handle;
    };
    const clear = (handle: unknown): void => {
      if (handle && typeof handle === 'object' && 'id' in handle) this.pending.delete(handle.id as number);
    };
    (globalThis as { setTimeout: unknown }).setTimeout = timeout;
    (globalThis as { clearTimeout: unknown }).clearTimeout = clear;
  }

  advanceTo(time: number): void {
    for (;;) {
      let nextId = 0;
      let nextAt = Infinity;
      for (const [id, timer] of this.pending) {
        if (timer.at < nextAt) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextAt > time) break;
      const timer = this.pending.get(nextId) as { run: () => void };
      this.pending.delete(nextId);
      this.now = Math.max(this.now, nextAt);
      timer.run();
    }
    this.now = time;
  }
}

interface MonthResult {
  services: number;
  stateBytes: number;
  /** The directory after close(): state.json and an empty journal. */
  dirBytesAfterClose: number;
  /** The largest the directory was, read once a simulated hour. */
  peakDirBytes: number;
  /** Compactions that ran while the months went by. */
  compactions: number;
  transitionsKept: number;
  downMinutesKept: number;
  rollupDaysKept: number;
  loadMs: number;
  copies: Copies;
}

/**
 * Child: `services` services through `SIMULATED_DAYS` days, each pulsing every hour and, in the
 * last 7 days, going critical by a reported error and back by a pulse `LAST_WEEK_OUTAGES`
 * times, each outage spanning the whole gap to the next but for seconds: every one of the
 * week's 10,080 minutes then holds downtime, and history passes `history_size`. Then
 * `close()`, which compacts everything into state.json, and the directory is measured.
 */
async function simulateMonths(services: number, historySize: number): Promise<MonthResult> {
  const time = new SimulatedTime(Date.parse('2026-08-01T00:00:00Z'));
  time.install();
  const dir = temporaryDirectory();
  const { store, last } = observedFileStore(dir);
  let compactions = 0;
  const counted: HeartbeatStore = {
    ...store,
    append: (entries, snapshot) => {
      const saved = store.append(entries, snapshot);
      if (last.compacted) compactions++;
      last.compacted = false;
      return saved;
    },
  };
  // Flushed hourly, as often as anything but the outages changes: the flush cadence changes the
  // journal's traffic, never what state.json holds (the journal is bounded by compaction).
  const config = { log_level: 'silent', history_size: historySize, flush_interval: 3600 } as const;
  const manager = new HeartbeatManager({ config, store: counted, clock: time.clock });
  const heartbeats = tags(services).map((tag) => manager.heartbeat({ tag, interval: 3600 }).start());
  let peakDirBytes = 0;
  const end = SIMULATED_DAYS * DAY;
  const weekStart = end - 7 * DAY;
  // Each service on its own phase, so their writes do not all fall in one timer turn.
  const phase = (index: number): number => Math.round((index * 60 * SECOND) / services);

  for (let hour = 0; hour * HOUR < weekStart; hour++) {
    for (let index = 0; index < services; index++) {
      time.advanceTo(hour * HOUR + phase(index));
      (heartbeats[index] as Heartbeat).pulse();
    }
    peakDirBytes = Math.max(peakDirBytes, directoryBytes(dir));
    await nextTurn(); // lets a compaction's snapshot, written in the background, land
  }
  const outage = (7 * DAY) / LAST_WEEK_OUTAGES;
  for (let cycle = 0; cycle < LAST_WEEK_OUTAGES; cycle++) {
    const start = weekStart + cycle * outage;
    for (let index = 0; index < services; index++) {
      time.advanceTo(start + phase(index) + 5 * SECOND);
      (heartbeats[index] as Heartbeat).error('upstream connection refused: ECONNREFUSED 10.0.0.7:5432', { critical: true });
    }
    for (let index = 0; index < services; index++) {
      time.advanceTo(start + outage - 10 * SECOND + phase(index));
      (heartbeats[index] as Heartbeat).pulse();
    }
    peakDirBytes = Math.max(peakDirBytes, directoryBytes(dir));
    await nextTurn();
  }
  time.advanceTo(end);
  const history = manager.history('service_0', { days: 90 });
  const transitionsKept = history?.transitions.length ?? 0;
  const rollupDaysKept = history?.daily?.length ?? 0;
  void manager.close();
  for (let i = 0; i < 20; i++) await nextTurn();
  const stateBytes = statSync(join(dir, 'state.json')).size;
  const dirBytesAfterClose = directoryBytes(dir);

  const started = performance.now();
  const restarted = new HeartbeatManager({ config, store: fileStore({ dir }), clock: time.clock });
  const loadMs = performance.now() - started;
  const downMinutesKept = downMinutesOf(dir);
  void restarted.close();
  const copies = copiesAtTheCaps(dir, services * 10, config, time.clock);
  rmSync(dir, { recursive: true, force: true });
  return {
    services,
    stateBytes,
    dirBytesAfterClose,
    peakDirBytes,
    compactions,
    transitionsKept,
    downMinutesKept,
    rollupDaysKept,
    loadMs,
    copies,
  };
}

interface Copies {
  services: number;
  bytes: number;
  loadMs: number;
  /** `close()` writes the whole state before it returns: what a compaction's snapshot takes in one turn, plus the write. */
  closeMs: number;
}

/**
 * The services of `dir`'s state.json copied under new tags up to `count`, then loaded and
 * closed: the cost of a restart and of a final snapshot per service at the caps, at a scale
 * the simulation itself (an fsync'd append per transition) would take many minutes to reach.
 */
function copiesAtTheCaps(dir: string, count: number, config: HeartbeatConfig, clock: Clock): Copies {
  const file = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { data: { state: { services: object[] } } };
  const originals = file.data.state.services;
  file.data.state.services = Array.from({ length: count }, (_, i) => ({
    ...(originals[i % originals.length] as object),
    tag: `copy_${i}`,
  }));
  const copyDir = temporaryDirectory();
  try {
    writeFileSync(join(copyDir, 'state.json'), `${JSON.stringify(file)}\n`);
    const bytes = statSync(join(copyDir, 'state.json')).size;
    const started = performance.now();
    const manager = new HeartbeatManager({ config, store: fileStore({ dir: copyDir }), clock });
    const loaded = performance.now();
    const restored = manager.restored?.services ?? 0;
    void manager.close();
    const closed = performance.now();
    if (restored !== count) throw new Error(`Loaded ${restored} of ${count} copies of services at the caps`);
    return { services: count, bytes, loadMs: loaded - started, closeMs: closed - loaded };
  } finally {
    rmSync(copyDir, { recursive: true, force: true });
  }
}

/**
 * The minutes with downtime that state.json holds for its first service (the 7-day cap is
 * 10,080), counted through the runs they are saved as ([first, seconds, count]).
 */
function downMinutesOf(dir: string): number {
  const file = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
    data: { state: { services: { uptime: { minutes: number[][] } }[] } };
  };
  return (file.data.state.services[0]?.uptime.minutes ?? []).reduce((total, entry) => total + (entry[2] ?? 1), 0);
}

async function monthFigures(quick: boolean): Promise<Figure[]> {
  const services = quick ? 2 : 10;
  const figures: Figure[] = [];
  for (const historySize of [1000, 100]) {
    const result = await forkBenchmark<MonthResult>(__filename, ['months', String(services), String(historySize)], []).received;
    const perService = (bytes: number): number[] => [bytes / result.services];
    const caps = `history_size ${historySize}`;
    figures.push(figure(`state.json per service at the caps, ${caps}`, 'KB', perService(result.stateBytes / 1024)));
    figures.push(figure(`directory after close() per service, ${caps}`, 'KB', perService(result.dirBytesAfterClose / 1024)));
    figures.push(figure(`largest directory seen per service while running, ${caps}`, 'KB', perService(result.peakDirBytes / 1024)));
    figures.push(figure(`transitions kept per service, ${caps}`, 'entries', [result.transitionsKept]));
    if (historySize === 1000) {
      figures.push(figure('minutes with downtime kept per service', 'minutes', [result.downMinutesKept]));
      figures.push(figure('daily rollups kept per service', 'days', [result.rollupDaysKept]));
      figures.push(figure(`compactions over ${SIMULATED_DAYS} days at ${services} services`, 'count', [result.compactions]));
      figures.push(figure(`load of ${services} services at the caps`, 'ms', [result.loadMs]));
      const { copies } = result;
      const scale = `${copies.services} services at the caps (copies, ${(copies.bytes / 1024 / 1024).toFixed(0)} MB)`;
      figures.push(figure(`load of ${scale}`, 'ms', [copies.loadMs]));
      figures.push(figure(`close() of ${scale}, one synchronous snapshot`, 'ms', [copies.closeMs]));
    }
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// A mass outage, written ahead

const OUTAGE_SIZE = 10_000;
const OUTAGE_GIVE_UP_MS = 60_000;

/**
 * `OUTAGE_SIZE` services with a 1 s interval pulse once in one loop and stop, so that one
 * timer turn finds them all late (the outage of bench/alerts.ts), with a file store or none:
 * the longest event-loop delay until every one is `warning`. Each change is saved before it
 * is announced, so the store's cost lands inside that turn.
 */
function massOutage(withStore: boolean): () => Promise<number> {
  return async () => {
    const dir = temporaryDirectory();
    const manager = new HeartbeatManager({ config: { log_level: 'silent' }, ...(withStore ? { store: fileStore({ dir }) } : {}) });
    const heartbeats = tags(OUTAGE_SIZE).map((tag) => manager.heartbeat({ tag, interval: 1 }).start());
    let warned = 0;
    // The library's timer is unref'd: this one keeps the process alive, and gives up on a hang.
    let giveUp: NodeJS.Timeout | undefined;
    const allWarned = new Promise<void>((resolve, reject) => {
      giveUp = setTimeout(() => {
        reject(new Error(`${warned} of ${OUTAGE_SIZE} services turned warning within ${OUTAGE_GIVE_UP_MS} ms`));
      }, OUTAGE_GIVE_UP_MS);
      manager.on('status', (change) => {
        if (change.to === 'warning' && ++warned === OUTAGE_SIZE) resolve();
      });
    });
    for (const heartbeat of heartbeats) heartbeat.pulse();
    await nextTurn();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    try {
      await allWarned;
      await nextTurn();
    } finally {
      delay.disable();
      clearTimeout(giveUp);
      void manager.close();
      await nextTurn();
      rmSync(dir, { recursive: true, force: true });
    }
    return delay.max / 1e6;
  };
}

async function outageFigures(quick: boolean): Promise<Figure[]> {
  const rounds = await interleave(quick ? 1 : 3, { bare: massOutage(false), stored: massOutage(true) }, false);
  const n = OUTAGE_SIZE.toLocaleString('en-US');
  return [
    figure(`${n} services miss a beat together, no store: longest event-loop block`, 'ms', rounds.bare),
    figure(`${n} services miss a beat together, file store: longest event-loop block`, 'ms', rounds.stored, {
      anchor: `${n} services miss a beat together, no store: longest event-loop block`,
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// pulse() with a file store

/** The loop of the pulse benchmark (bench/pulse.ts), on a manager with a file store and on one without. */
async function pulseFigures(quick: boolean): Promise<Figure[]> {
  const dir = temporaryDirectory();
  const bare = new HeartbeatManager({ config: { log_level: 'silent' } });
  const stored = new HeartbeatManager({ config: { log_level: 'silent' }, store: fileStore({ dir }) });
  const without = bare.heartbeat({ tag: 'bench', interval: 30 }).start();
  const withStore = stored.heartbeat({ tag: 'bench', interval: 30 }).start();
  const ops = quick ? 1_000_000 : 10_000_000;
  const loop = (heartbeat: Heartbeat) => (): number => {
    const started = performance.now();
    for (let i = 0; i < ops; i++) heartbeat.pulse();
    return ((performance.now() - started) * 1e6) / ops;
  };
  try {
    // Each round ends with a turn of the event loop, so the file store's flush timer runs between rounds as it would between an application's pulses.
    const round = (heartbeat: Heartbeat) => async (): Promise<number> => {
      const ns = loop(heartbeat)();
      await nextTurn();
      return ns;
    };
    const nsPerOp = await interleave(quick ? 5 : 21, { 'without a store': round(without), 'with a file store': round(withStore) });
    const bytes = (heartbeat: Heartbeat): number[] =>
      allocatedBytesPerOp((n) => {
        for (let i = 0; i < n; i++) heartbeat.pulse();
      });
    return [
      figure('heartbeat.pulse() without a store', 'ns/op', nsPerOp['without a store']),
      figure('heartbeat.pulse() with a file store', 'ns/op', nsPerOp['with a file store'], {
        anchor: 'heartbeat.pulse() without a store',
        target: { text: '≤ 1.1× without (unchanged)', limit: 1.1, on: 'ratio' },
      }),
      figure('pulse() allocation without a store', 'bytes/op', bytes(without)),
      figure('pulse() allocation with a file store', 'bytes/op', bytes(withStore), {
        anchor: 'pulse() allocation without a store',
        // Both read 16 bytes, the clock's boxed number (see bench/pulse.ts); 1% is the helper's rounding.
        target: { text: '≤ 1.01× without (unchanged)', limit: 1.01, on: 'ratio' },
      }),
    ];
  } finally {
    void bare.close();
    void stored.close();
    await nextTurn();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchStore(quick: boolean): Promise<Figure[]> {
  // Other work on the machine shows in the wall times (the fsyncs themselves take well under a millisecond here).
  const load = (): string => (loadavg()[0] as number).toFixed(2);
  const before = load();
  const figures = [
    ...(await flushFigures(quick)),
    ...(await restartFigures(quick)),
    ...(await monthFigures(quick)),
    ...(await outageFigures(quick)),
    ...(await pulseFigures(quick)),
  ];
  console.log(`(1-minute load average ${before} before, ${load()} after)`);
  return figures;
}

if (require.main === module) {
  const [mode, first = '', second = ''] = process.argv.slice(2);
  const answer = (value: unknown): void => {
    process.send?.(value, () => {
      if (mode !== 'fill') process.exit(0);
    });
  };
  const fail = (error: unknown): void => {
    console.error(error);
    process.exit(1);
  };
  try {
    if (mode === 'fill') fillForCrash(first, Number(second));
    else if (mode === 'load') answer(loadOnce(first));
    else if (mode === 'months') simulateMonths(Number(first), Number(second)).then(answer, fail);
  } catch (error) {
    fail(error);
  }
}
