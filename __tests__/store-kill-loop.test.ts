// Issue 16's kill loop and one-writer tests, on real processes. The child program
// (fixtures/store-child.ts) runs a server whose manager keeps its state in a file store; it is
// killed with SIGKILL at a random point 50 times, each kill followed by a restart on the same
// directory, and each restart's restored state is held to everything the killed run printed
// before it died. The loop runs once; each test below checks one promise over all restarts.
import { mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHILD_FLUSH_INTERVAL,
  bundleStoreChild,
  seededRandom,
  startStoreChild,
  type ChildLine,
  type Counts,
  type StoreChild,
} from './helpers/store-child';

type Line<K extends ChildLine['kind']> = Extract<ChildLine, { kind: K }>;
type Restored = Line<'restored'>;
type Transition = NonNullable<Restored['services'][string]['history']>['transitions'][number];

const KILLS = 50;
/** Replay a failure's random choices with HEARTBEAT_KILL_LOOP_SEED=<the seed it printed>; the timing of a run is its own. */
const SEED = readSeed(process.env.HEARTBEAT_KILL_LOOP_SEED);

function readSeed(given: string | undefined): number {
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 31);
  if (!/^\d{1,10}$/.test(given))
    throw new Error(
      `HEARTBEAT_KILL_LOOP_SEED is ${JSON.stringify(given)}; expected the whole number a failed run printed, e.g. 1251871186.`,
    );
  return Number(given);
}

/** A run is killed after a random number of lines below this past its restored state (about 100 a second): up to 0.4 s. */
const MAX_LINES_PER_RUN = 40;
/**
 * How far past `flush_interval` a flush may be due after any moment of the child's clock: the
 * scheduler arms its timer one millisecond past the deadline, and Node's timer clock counts
 * whole milliseconds where performance.now() does not (one more each way).
 */
const FLUSH_DUE_SLACK_MS = 3;

let workDir = '';
let bundle = '';
const children: StoreChild[] = [];

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'heartbeat-kill-loop-'));
  bundle = bundleStoreChild(workDir);
});
afterEach(killChildren);
afterAll(async () => {
  await killChildren(); // a loop that failed half-way leaves none behind either
  rmSync(workDir, { recursive: true, force: true });
});

async function killChildren(): Promise<void> {
  await Promise.all(children.splice(0).map((child) => child.kill()));
}

function start(dir: string, seed: number, run: number): StoreChild {
  const child = startStoreChild(bundle, dir, seed, run);
  children.push(child);
  return child;
}

/** A new state directory, by its real path, which is how the lock names it. */
function stateDir(name: string): string {
  return realpathSync(mkdtempSync(join(workDir, `${name}-`)));
}

const ofKind =
  <K extends ChildLine['kind']>(kind: K) =>
  (line: ChildLine): line is Line<K> =>
    line.kind === kind;

const atLeast = (restored: Counts | null, expected: Counts): boolean =>
  restored !== null && restored[0] >= expected[0] && restored[1] >= expected[1];

function countsOf(restored: Restored, tag: string): Counts | null {
  const service = restored.services[tag]?.service;
  return service ? [service.total_pulses, service.error_count] : null;
}

/**
 * The last counters line of `lines` that a flush certainly saved before the kill: the flush
 * due after it (at most `flush_interval` + {@link FLUSH_DUE_SLACK_MS} later, as each flush
 * queues the next one an interval after it ran) ran before the third counters line printed
 * after that moment. The first shows the moment passed; the event loop's turn that printed
 * the second began after it, so the flush was due in that turn and ran in it, perhaps after
 * the second; the third comes in a later turn. This holds however late timers fire, as on a
 * busy machine: only the order of the child's lines is relied on.
 */
function lastSurelyFlushed(lines: readonly ChildLine[]): Line<'counters'> | null {
  const counters = lines.filter(ofKind('counters'));
  for (let index = counters.length - 1; index >= 0; index--) {
    const line = counters[index] as Line<'counters'>;
    const dueBy = line.mono + CHILD_FLUSH_INTERVAL * 1000 + FLUSH_DUE_SLACK_MS;
    const passed = counters.findIndex((later, at) => at > index && later.mono > dueBy);
    if (passed !== -1 && passed + 2 < counters.length) return line;
  }
  return null;
}

const changeOf = (transition: Pick<Transition, 'from' | 'to' | 'reason'>): string =>
  `${transition.from}→${transition.to} (${transition.reason})`;

/** The problems found, by the promise they break; each names the restart and the service. */
interface Findings {
  backwards: string[];
  lostMoreThanAFlush: string[];
  remoteLost: string[];
  transitions: string[];
  movedTimes: string[];
  state: string[];
  cleanStop: string[];
}

/** Holds one restart's restored state to the run before it (`lines`, which began at `before`). */
function checkRestart(restart: number, restored: Restored, before: Restored, lines: readonly ChildLine[], found: Findings): void {
  const problem = (list: string[], text: string): void => {
    list.push(`restart ${restart}: ${text}`);
  };
  if (restored.summary === null || restored.summary.skipped !== 0)
    problem(found.state, `saved values were skipped as unreadable: ${JSON.stringify(restored.summary)}`);
  if (restored.store.state !== 'ok') problem(found.state, `the store is ${restored.store.state}: ${restored.store.lastError}`);
  for (const [tag, { service, history }] of Object.entries(restored.services)) {
    if (!service || !history) problem(found.state, `${tag} was restored but is not shown`);
    for (const [window, ratio] of Object.entries(history?.uptime ?? {}))
      if (!(ratio >= 0 && ratio <= 1)) problem(found.state, `${tag}: uptime ${window} is ${ratio}, outside 0-1`);
  }

  for (const tag of Object.keys(before.services)) {
    const was = countsOf(before, tag);
    const now = countsOf(restored, tag);
    if (was && !atLeast(now, was))
      problem(found.backwards, `${tag}: [total_pulses, error_count] went back from ${JSON.stringify(was)} to ${JSON.stringify(now)}`);
  }

  // What the store said it had written (its append() returned) is back, at least.
  const lastSaved = new Map<string, Counts>();
  const savedRemote = new Set<string>();
  for (const line of lines.filter(ofKind('saved'))) {
    for (const [tag, counts] of Object.entries(line.counters)) lastSaved.set(tag, counts);
    for (const tag of line.remote) savedRemote.add(tag);
  }
  for (const [tag, saved] of lastSaved) {
    const now = countsOf(restored, tag);
    if (!atLeast(now, saved))
      problem(found.lostMoreThanAFlush, `${tag}: ${JSON.stringify(saved)} were saved before the kill, ${JSON.stringify(now)} came back`);
  }
  for (const tag of savedRemote) if (!restored.services[tag]) problem(found.remoteLost, `${tag} was saved as remote, and is not back`);

  // And the counters as they stood a flush interval before the kill.
  const flushed = lastSurelyFlushed(lines);
  for (const [tag, counts] of Object.entries(flushed?.services ?? {})) {
    const now = countsOf(restored, tag);
    if (!atLeast(now, counts))
      problem(
        found.lostMoreThanAFlush,
        `${tag}: ${JSON.stringify(counts)} at ${flushed?.mono.toFixed(1)} ms, a flush before the kill, came back as ${JSON.stringify(now)}`,
      );
  }
  // A registration is saved before its 204 is sent: every one the child heard of must be back.
  for (const line of lines.filter(ofKind('registered')))
    if (!restored.services[line.service]) problem(found.remoteLost, `${line.service} was registered before the kill, and is not back`);
}

/**
 * Follows each service's history from restart to restart, by position: with `history_size`
 * far above what the runs make, a restored history is the one restored before it, then the
 * changes the killed run saved, in order. Those are the ones it announced (printed after its
 * restored state), then perhaps some saved but not announced: the manager saves the changes
 * one timer firing finds in one append, then announces them (write-ahead), so those of the
 * last append before the kill only. Then come the changes of this start, announced before its
 * restored state was printed (`started`).
 * So every change announced is found once, at its place, whatever time the history shows; and
 * as each change starts from the status the one before it ended in, a restart that forgot a
 * service's status would announce a change from the wrong one.
 */
class HistoryLedger {
  /** By service: the wall ms each kept change was announced at, by its place in the history (null if it was not). */
  private readonly announcedAt = new Map<string, (number | null)[]>();
  /** The largest distance seen between a change's announced time and its restored time, in ms. */
  maxMovedMs = 0;
  announced = 0;
  private readonly moved = new Set<string>();

  /**
   * `early`: the new run's lines before its restored state; `before` and `lines`: the restored
   * state and the lines of the run before, if there was one.
   */
  check(
    restart: number,
    restored: Restored,
    early: readonly ChildLine[],
    before: Restored | null,
    lines: readonly ChildLine[],
    found: Findings,
  ): void {
    const problem = (text: string): void => {
      found.transitions.push(`restart ${restart}: ${text}`);
    };
    const afterRestored = lines.slice(lines.findIndex(ofKind('restored')) + 1);
    const sinceRestored = afterRestored.filter(ofKind('status'));
    const saves = afterRestored.filter(ofKind('saved'));
    const startedNow = early.filter(ofKind('status'));
    for (const tag of new Set([...Object.keys(before?.services ?? {}), ...Object.keys(restored.services)])) {
      const was = before?.services[tag]?.history?.transitions ?? [];
      const now = restored.services[tag]?.history?.transitions ?? [];
      const announced = sinceRestored.filter((line) => line.service === tag);
      const started = startedNow.filter((line) => line.service === tag);
      const expected = [
        ...was.map((kept, index) => ({ change: changeOf(kept), at: this.timeOf(tag, index), what: 'restored before' })),
        ...announced.map((line) => ({ change: changeOf(line), at: Date.parse(line.time), what: 'announced' })),
      ];
      const extra = now.length - expected.length - started.length;
      if (extra < 0) problem(`${tag}: the restored history holds ${-extra} changes fewer than were announced`);
      // By position again: the service's k-th saved change after the restored state is the k-th it gained.
      const savedIn = saves.flatMap((line, save) => line.changes.filter((change) => change.service === tag).map(() => save));
      for (let k = announced.length; k < announced.length + extra; k++) {
        const save = savedIn[k];
        const kept = now[was.length + k] as Transition;
        if (save !== undefined && save !== saves.length - 1)
          problem(`${tag}: ${changeOf(kept)} at ${kept.time} was saved, then ${saves.length - 1 - save} more appends, and never announced`);
      }
      const atStart = started.map((line) => ({ change: changeOf(line), at: Date.parse(line.time), what: 'announced at this start' }));
      expected.forEach((one, index) => {
        this.compare(restart, tag, index, one, now[index], problem, found);
      });
      atStart.forEach((one, index) => {
        this.compare(restart, tag, now.length - started.length + index, one, now[now.length - started.length + index], problem, found);
      });
      this.announcedAt.set(tag, [
        ...expected.map(({ at }) => at),
        ...Array.from({ length: Math.max(0, extra) }, () => null),
        ...atStart.map(({ at }) => at),
      ]);
      this.announced += announced.length;
      // Each change starts where the one before it ended: none lost, none announced again after a restart.
      now.forEach((kept, index) => {
        const previous = now[index - 1];
        if (previous && kept.from !== previous.to)
          problem(`${tag}: change #${index}, ${changeOf(kept)} at ${kept.time}, follows ${changeOf(previous)} at ${previous.time}`);
      });
    }
  }

  /** Holds the change at `index` of a restored history to the one expected there. */
  private compare(
    restart: number,
    tag: string,
    index: number,
    expected: { change: string; at: number | null; what: string },
    kept: Transition | undefined,
    problem: (text: string) => void,
    found: Findings,
  ): void {
    const { change, at, what } = expected;
    if (!kept || changeOf(kept) !== change) {
      const shown = at === null ? '' : ` at ${new Date(at).toISOString()}`;
      problem(
        `${tag}: change #${index} (${what}) was ${change}${shown}; the restored history has ${kept ? `${changeOf(kept)} at ${kept.time}` : 'nothing'} there`,
      );
      return;
    }
    if (at === null) return;
    const moved = Date.parse(kept.time) - at;
    this.maxMovedMs = Math.max(this.maxMovedMs, Math.abs(moved));
    // Each change once, at the first restart that moved it.
    if (moved === 0 || this.moved.has(`${tag}#${index}`)) return;
    this.moved.add(`${tag}#${index}`);
    found.movedTimes.push(`restart ${restart}: ${tag}: ${change}, announced at ${new Date(at).toISOString()}, is shown at ${kept.time}`);
  }

  private timeOf(tag: string, index: number): number | null {
    return this.announcedAt.get(tag)?.[index] ?? null;
  }
}
/** What the loop found, and what it measured. */
type LoopResult = Findings & {
  /** Status changes the killed runs announced. */
  announced: number;
  /** The largest distance between a change's announced time and a restored history's, in ms. */
  maxMovedMs: number;
  /** Restarts after a run that printed a counters line a flush before its kill. */
  surelyFlushed: number;
  /** Remote services at the last start. */
  remote: number;
};

/** SIGTERM: the child prints its final counters, closes its manager and exits 0 by itself. */
async function stopCleanly(child: StoreChild, found: Findings): Promise<void> {
  child.process.kill('SIGTERM');
  try {
    const { code, signal } = await child.endsWithin(15_000, 'after SIGTERM');
    if (code !== 0 || !child.lines.some(ofKind('closed')))
      found.cleanStop.push(`SIGTERM ended the child with ${signal ?? `code ${code}`}; stderr: ${child.stderr()}`);
  } catch (error) {
    found.cleanStop.push((error as Error).message);
  }
}

/** The loop itself: 50 kills at random points, each followed by a restart that is checked; then a clean stop and one more start. */
async function killLoop(dir: string): Promise<LoopResult> {
  const found: Findings = {
    backwards: [],
    lostMoreThanAFlush: [],
    remoteLost: [],
    transitions: [],
    movedTimes: [],
    state: [],
    cleanStop: [],
  };
  const ledger = new HistoryLedger();
  const random = seededRandom(SEED);
  let before: Restored | null = null;
  let previous: StoreChild | null = null;
  let surelyFlushed = 0;
  for (let run = 0; run <= KILLS + 1; run++) {
    const child = start(dir, Math.floor(random() * 2 ** 31), run);
    const restored = (await child.waitFor(ofKind('restored'), 'its restored state')) as Restored;
    if (before && previous) {
      checkRestart(run, restored, before, previous.lines, found);
      if (lastSurelyFlushed(previous.lines)) surelyFlushed++;
    }
    ledger.check(run, restored, child.lines.slice(0, child.lines.indexOf(restored)), before, previous?.lines ?? [], found);
    if (run === KILLS + 1) {
      // After a clean stop nothing is lost: the counters are those of the final line, exactly.
      for (const [tag, counts] of Object.entries(previous?.lines.find(ofKind('final'))?.services ?? {}))
        if (JSON.stringify(countsOf(restored, tag)) !== JSON.stringify(counts))
          found.cleanStop.push(`${tag}: stopped with ${JSON.stringify(counts)}, restarted with ${JSON.stringify(countsOf(restored, tag))}`);
      await stopCleanly(child, found);
      break;
    }
    if (run === KILLS) await stopCleanly(child, found);
    else {
      const killAfter = child.lines.indexOf(restored) + Math.floor(random() * MAX_LINES_PER_RUN);
      await child.waitFor(() => true, `line ${killAfter}`, { from: killAfter });
      await child.kill();
    }
    before = restored;
    previous = child;
  }
  const setAside = readdirSync(dir).filter((name) => name.includes('.corrupt-'));
  if (setAside.length > 0) found.state.push(`files set aside as unreadable: ${setAside.join(', ')}`);
  const remote = Object.keys(before?.services ?? {}).filter((tag) => tag.startsWith('remote_')).length;
  return { ...found, announced: ledger.announced, maxMovedMs: ledger.maxMovedMs, surelyFlushed, remote };
}

/** `problems` with the seed beside them, so that a failure says how to replay it. */
const seeded = (problems: readonly string[]) => ({ replay: `HEARTBEAT_KILL_LOOP_SEED=${SEED}`, problems });

describe(`a file store killed with SIGKILL ${KILLS} times at random points`, () => {
  let found: LoopResult;
  beforeAll(async () => {
    console.info(`store kill loop: seed ${SEED} (HEARTBEAT_KILL_LOOP_SEED=${SEED} replays its random choices)`);
    found = await killLoop(stateDir('kill-loop'));
  }, 180_000);

  it('never lets total_pulses or error_count go backwards across a restart', () => {
    expect(seeded(found.backwards)).toEqual(seeded([]));
  });

  it('loses at most the counters of one flush interval: what was saved, and what stood a flush before the kill, comes back', () => {
    // Most runs live long enough to print a line a flush before their kill (the shortest do not).
    expect(found.surelyFlushed).toBeGreaterThanOrEqual(KILLS / 5);
    expect(seeded(found.lostMoreThanAFlush)).toEqual(seeded([]));
  });

  it('brings back the remote services registered before the kill', () => {
    expect(found.remote).toBeGreaterThan(0);
    expect(seeded(found.remoteLost)).toEqual(seeded([]));
  });

  it('keeps every announced status change in the restored history, exactly once and in order', () => {
    expect(found.announced).toBeGreaterThan(KILLS); // the runs did change status, so the check below checked something
    expect(seeded(found.transitions)).toEqual(seeded([]));
  });

  it('shows each restored status change at the time it was announced', () => {
    const moved = { ...seeded(found.movedTimes.slice(0, 10)), changes: found.movedTimes.length, largestMs: found.maxMovedMs };
    expect(moved).toEqual({ ...seeded([]), changes: 0, largestMs: 0 });
  });

  it('keeps uptime ratios within 0-1, the store ok, and every saved value readable', () => {
    expect(seeded(found.state)).toEqual(seeded([]));
  });

  it('loses nothing at a clean stop (SIGTERM, close()) after the kills', () => {
    expect(seeded(found.cleanStop)).toEqual(seeded([]));
  });
});

describe('one writer', () => {
  it('refuses a second process on a directory another one holds, naming the directory and its PID', async () => {
    const dir = stateDir('one-writer');
    const holder = start(dir, 1, 0);
    const { pid } = (await holder.waitFor(ofKind('restored'), 'its restored state')) as Restored;
    expect(pid).toBe(holder.process.pid);

    const second = start(dir, 2, 1);
    // By itself: a refused manager holds nothing that keeps its process alive.
    const { code } = await second.endsWithin(15_000, 'after its refusal');
    expect(code).toBe(3);
    expect(second.lines).toEqual([]);
    expect(second.stderr()).toMatch(/^DirectoryInUseError: /);
    expect(second.stderr()).toContain(dir);
    expect(second.stderr()).toMatch(new RegExp(`\\bprocess ${pid}\\b`));
    // The holder goes on saving, undisturbed.
    await holder.waitFor(ofKind('saved'), 'a save after the refusal', { from: holder.lines.length });
  });
});
