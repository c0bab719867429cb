// Predictive health: how early and how rarely wrongly a service's `trend` warns, on a seeded
// synthetic fleet monitored by a real HeartbeatManager on a clock the bench moves (no timer
// fires, no jest). Run with `npm run bench -- predict` (or `--quick`).
import { xoroshiro128plus } from 'pure-rand';
import { DEFAULT_GRACE_RATIO, graceMs } from '../lib/core/config';
import { HeartbeatManager, type Heartbeat } from '../lib';
import { figure, type Figure } from './measure';

const HOUR_MS = 3_600_000;
const INTERVALS_S = [10, 30, 60, 300];
/** Grace as a share of the interval; `null` is the config's default, 10%. */
const GRACE_SHARES = [null, 0.25, 0.5, 1];
/** How long each stable, bursty or sudden-stop worker runs. */
const HEALTHY_HOURS = 24;
/** Per round: enough stable and bursty service-hours (90 × 24 = 2,160) for a rate per 1,000 to mean something. */
const FLEET = { stable: 60, bursty: 30, sudden: 10, degrading: 100 };
/**
 * Reads per interval of the bench's first version, which fed the model alone and read it as a
 * page polling the service would: the pulses it sent are still drawn on that grid (see `schedule`).
 */
const READS_PER_INTERVAL = 4;

type Random = () => number;

function seeded(seed: number): Random {
  const generator = xoroshiro128plus(seed);
  return () => (generator.unsafeNext() >>> 0) / 2 ** 32;
}

const uniform = (random: Random, low: number, high: number): number => low + random() * (high - low);
const pickOne = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const integer = (random: Random, low: number, high: number): number => Math.floor(uniform(random, low, high + 1));

interface Worker {
  intervalMs: number;
  graceShare: number | null;
  /** The next gap in ms, or `null` when the worker stops pulsing. */
  nextGap: () => number | null;
  /** Simulated time the run ends at (a stop or the first miss ends it sooner). */
  endMs: number;
  /** When the degradation starts (degrading workers only): flags from then on count toward recall. */
  degradesAfterMs?: number;
}

interface Outcome {
  /** at_risk false → true transitions seen by the reads. */
  raised: number;
  /** First pulse at or after `degradesAfterMs` after which the trend read at_risk. */
  firstFlagMs: number | null;
  /** Deadline of the first missed beat, or `null` if none before the end. */
  missMs: number | null;
  hours: number;
}

/** A worker's pulses, drawn in full before any is sent, and what ends them. */
interface Schedule {
  worker: Worker;
  /** Pulse times in ms after the start (the start itself, at 0, is a pulse too). */
  pulses: number[];
  missMs: number | null;
  /** When the run ends: its first miss, or `endMs`. */
  untilMs: number;
}

/**
 * Draws a worker's gaps until its first miss or its end, as they were drawn when the bench fed
 * the model alone (one worker after another, four reads per interval, a read at each multiple of
 * interval / 4 before `endMs`), so the shared random numbers and the pulse times stay the same.
 */
function schedule(worker: Worker): Schedule {
  const grace = graceSeconds(worker);
  const deadlineMs = worker.intervalMs + graceMs(grace, worker.intervalMs / 1000);
  const step = worker.intervalMs / READS_PER_INTERVAL;
  // The last read before the end: pulses after it were never sent.
  const lastReadMs = Number.isFinite(worker.endMs) ? Math.ceil(worker.endMs / step - 1) * step : Infinity;
  const pulses = [0];
  let lastPulse = 0;
  let gap = worker.nextGap();
  while (gap !== null && gap <= deadlineMs && lastPulse + gap <= lastReadMs) {
    lastPulse += gap;
    pulses.push(lastPulse);
    gap = worker.nextGap();
  }
  const stopped = gap === null || gap > deadlineMs;
  const missMs = stopped && lastPulse + deadlineMs < lastReadMs ? lastPulse + deadlineMs : null;
  return { worker, pulses, missMs, untilMs: missMs ?? worker.endMs };
}

const graceSeconds = (worker: Worker): number | null =>
  worker.graceShare === null ? null : (worker.graceShare * worker.intervalMs) / 1000;

/** A clock the bench moves by hand: the manager reads it, and no timer fires during a round. */
interface BenchClock {
  now(): number;
  wallNow(): number;
  at: number;
}

/**
 * Runs the fleet in one `HeartbeatManager`, as a server would monitor it: each worker a
 * configured service with its interval and grace, started at 0; every pulse, in time order
 * across the fleet, is a `pulse()` at its time on an injected clock, followed by a read of
 * `manager.service(tag).trend.at_risk`. The trend depends on pulse times alone, so a read after
 * each pulse sees every verdict the service ever has. The manager arms its real (unref'd)
 * timer as it would; the round runs without yielding, so it never fires, and the manager is
 * closed at the end.
 */
function simulate(schedules: readonly Schedule[]): Outcome[] {
  const clock: BenchClock = { at: 0, now: () => clock.at, wallNow: () => WALL_ORIGIN_MS + clock.at };
  const services = Object.fromEntries(
    schedules.map(({ worker }, index) => {
      const grace = graceSeconds(worker);
      return [tagOf(index), { interval: worker.intervalMs / 1000, ...(grace === null ? {} : { grace }) }];
    }),
  );
  const manager = new HeartbeatManager({ config: { log_level: 'silent', services }, clock });
  const heartbeats = schedules.map((_, index) => manager.heartbeat({ tag: tagOf(index) }).start());
  const outcomes: Outcome[] = schedules.map(({ missMs, untilMs }) => ({ raised: 0, firstFlagMs: null, missMs, hours: untilMs / HOUR_MS }));
  const atRisk = schedules.map(() => false);
  const next = schedules.map(() => 0);
  // The fleet's pulses in time order: a binary heap of workers by their next pulse.
  const heap = new PulseHeap((index) => schedules[index]?.pulses[next[index] as number] as number);
  for (let index = 0; index < schedules.length; index++) heap.push(index);
  for (let index = heap.pop(); index !== undefined; index = heap.pop()) {
    const { pulses, worker } = schedules[index] as Schedule;
    const at = pulses[next[index] as number] as number;
    clock.at = at;
    (heartbeats[index] as Heartbeat).pulse();
    const flagged = manager.service(tagOf(index))?.trend.at_risk === true;
    const outcome = outcomes[index] as Outcome;
    if (flagged && !atRisk[index]) outcome.raised++;
    atRisk[index] = flagged;
    if (flagged && outcome.firstFlagMs === null && worker.degradesAfterMs !== undefined && at >= worker.degradesAfterMs) {
      outcome.firstFlagMs = at;
    }
    if (++(next[index] as number) < pulses.length) heap.push(index);
  }
  void manager.close();
  return outcomes;
}

const tagOf = (index: number): string => `worker_${String(index)}`;
/** Wall time of the simulated start, for the timestamps nobody reads here. */
const WALL_ORIGIN_MS = Date.UTC(2026, 0, 1);

/** A min-heap of worker indexes by the time `key` gives each (their next pulse). */
class PulseHeap {
  private readonly items: number[] = [];

  constructor(private readonly key: (index: number) => number) {}

  push(index: number): void {
    const items = this.items;
    let at = items.push(index) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (this.key(items[parent] as number) <= this.key(index)) break;
      items[at] = items[parent] as number;
      at = parent;
    }
    items[at] = index;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const lastKey = this.key(last);
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= items.length) break;
      const right = child + 1;
      if (right < items.length && this.key(items[right] as number) < this.key(items[child] as number)) child = right;
      if (this.key(items[child] as number) >= lastKey) break;
      items[at] = items[child] as number;
      at = child;
    }
    items[at] = last;
    return top;
  }
}

function timing(random: Random): { intervalMs: number; graceShare: number | null; deadlineShare: number } {
  const intervalMs = pickOne(random, INTERVALS_S) * 1000;
  const graceShare = pickOne(random, GRACE_SHARES);
  return { intervalMs, graceShare, deadlineShare: 1 + (graceShare ?? DEFAULT_GRACE_RATIO) };
}

/** Gaps uniform between (1 − jitter) × interval and the interval, jitter 5–100% per worker. */
function stable(random: Random, stopAfterHours = HEALTHY_HOURS): Worker {
  const { intervalMs, graceShare } = timing(random);
  const jitter = uniform(random, 0.05, 1);
  return { intervalMs, graceShare, endMs: stopAfterHours * HOUR_MS, nextGap: () => intervalMs * (1 - jitter * random()) };
}

/** Runs of 1–3 fast gaps (5–35% of the interval), then runs of 1–3 slow ones (80% of the interval up to the deadline). */
function bursty(random: Random): Worker {
  const { intervalMs, graceShare, deadlineShare } = timing(random);
  let fast = true;
  let left = 0;
  return {
    intervalMs,
    graceShare,
    endMs: HEALTHY_HOURS * HOUR_MS,
    nextGap: () => {
      if (left === 0) {
        fast = !fast;
        left = integer(random, 1, 3);
      }
      left--;
      return intervalMs * (fast ? uniform(random, 0.05, 0.35) : uniform(random, 0.8, deadlineShare));
    },
  };
}

/** A stable worker that stops pulsing after 2–24 hours: no gap foretells it. */
function sudden(random: Random): Worker {
  const stopAfterMs = uniform(random, 2, HEALTHY_HOURS) * HOUR_MS;
  const worker = stable(random, HEALTHY_HOURS + 1);
  let at = 0;
  const steady = worker.nextGap;
  return {
    ...worker,
    nextGap: () => {
      const gap = steady() ?? 0;
      at += gap;
      return at > stopAfterMs ? null : gap;
    },
  };
}

/**
 * Steady at 60–95% of the interval with noise of ±0–10% of it, for 20–120 beats; then the
 * gaps grow by 0.5–10% of the interval per beat (log-uniform), noise unchanged, until one
 * passes the deadline.
 */
function degrading(random: Random): Worker {
  const { intervalMs, graceShare } = timing(random);
  const base = uniform(random, 0.6, 0.95);
  const noise = uniform(random, 0, 0.1);
  const rate = Math.exp(uniform(random, Math.log(0.005), Math.log(0.1)));
  const steadyBeats = integer(random, 20, 120);
  let beat = 0;
  let at = 0;
  const worker: Worker = {
    intervalMs,
    graceShare,
    endMs: Infinity,
    nextGap: () => {
      beat++;
      if (beat === steadyBeats + 1) worker.degradesAfterMs = at;
      const level = base + rate * Math.max(0, beat - steadyBeats);
      const gap = intervalMs * Math.max(0.01, level + noise * (2 * random() - 1));
      at += gap;
      return gap;
    },
  };
  return worker;
}

interface RoundResult {
  recall: number;
  medianLead: number;
  falsePerThousandHours: number;
  healthyHours: number;
  suddenFlagged: number;
}

function round(seed: number): RoundResult {
  const random = seeded(seed);
  // Drawn in the bench's first order (stable, bursty, sudden, degrading), each worker in full before the next.
  const healthy = Array.from({ length: FLEET.stable + FLEET.bursty }, (_, i) =>
    schedule(i < FLEET.stable ? stable(random) : bursty(random)),
  );
  const stopping = Array.from({ length: FLEET.sudden }, () => schedule(sudden(random)));
  const degradingWorkers = Array.from({ length: FLEET.degrading }, () => schedule(degrading(random)));
  const fleet = [...healthy, ...stopping, ...degradingWorkers];
  const outcomes = simulate(fleet);

  let raised = 0;
  let healthyHours = 0;
  let suddenFlagged = 0;
  const leads: number[] = [];
  let degraded = 0;
  fleet.forEach(({ worker }, index) => {
    const outcome = outcomes[index] as Outcome;
    if (index < healthy.length) {
      raised += outcome.raised;
      healthyHours += outcome.hours;
    } else if (index < healthy.length + stopping.length) {
      if (outcome.raised > 0) suddenFlagged++;
    } else {
      if (outcome.missMs === null) throw new Error('a degrading worker never missed');
      // A worker whose noise made it miss before it began to degrade is a sudden stop, not a trend.
      if (worker.degradesAfterMs === undefined || outcome.missMs < worker.degradesAfterMs) return;
      degraded++;
      if (outcome.firstFlagMs !== null) leads.push((outcome.missMs - outcome.firstFlagMs) / worker.intervalMs);
    }
  });
  leads.sort((a, b) => a - b);
  return {
    recall: (100 * leads.length) / degraded,
    medianLead: leads.length > 0 ? (leads[leads.length >> 1] as number) : 0,
    falsePerThousandHours: (1000 * raised) / healthyHours,
    healthyHours,
    suddenFlagged,
  };
}

export function benchPredict(quick: boolean): Promise<Figure[]> {
  const rounds = Array.from({ length: quick ? 2 : 5 }, (_, index) => round(0x7e2d + index));
  const of = (field: keyof RoundResult): number[] => rounds.map((result) => result[field]);
  return Promise.resolve([
    figure('recall: degrading workers flagged before their first miss', '%', of('recall'), {
      target: { text: '≥ 80%', limit: 80, on: 'median-at-least' },
    }),
    figure('median lead before the first miss', 'intervals', of('medianLead'), {
      target: { text: '≥ 2 intervals', limit: 2, on: 'median-at-least' },
    }),
    figure('false positives on stable and bursty workers', 'per 1,000 service-hours', of('falsePerThousandHours'), {
      target: { text: '≤ 1 per 1,000 service-hours', limit: 1, on: 'median' },
    }),
    figure('stable and bursty service-hours per round', 'h', of('healthyHours')),
    figure(`sudden stops flagged before they stopped (of ${String(FLEET.sudden)})`, 'workers', of('suddenFlagged')),
  ]);
}
