// Predictive health: how early and how rarely wrongly the gap model (lib/core/trend.ts) warns,
// on a seeded synthetic fleet driven by simulated time (no timers). Run with
// `npm run bench -- predict` (or `--quick`).
import { xoroshiro128plus } from 'pure-rand';
import { DEFAULT_GRACE_RATIO, graceMs } from '../lib/core/config';
import { GapTrend } from '../lib/core/trend';
import { figure, type Figure } from './measure';

const HOUR_MS = 3_600_000;
const INTERVALS_S = [10, 30, 60, 300];
/** Grace as a share of the interval; `null` is the config's default, 10%. */
const GRACE_SHARES = [null, 0.25, 0.5, 1];
/** How long each stable, bursty or sudden-stop worker runs. */
const HEALTHY_HOURS = 24;
/** Per round: enough stable and bursty service-hours (90 × 24 = 2,160) for a rate per 1,000 to mean something. */
const FLEET = { stable: 60, bursty: 30, sudden: 10, degrading: 100 };
/** Reads per interval: what a page or a scraper polling the service would see. */
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
  /** First read at or after `degradesAfterMs` that saw at_risk. */
  firstFlagMs: number | null;
  /** Deadline of the first missed beat, or `null` if none before `endMs`. */
  missMs: number | null;
  hours: number;
}

/** Feeds one worker's pulses to a model and reads it every interval / 4, until the end or its first miss. */
function simulate(worker: Worker): Outcome {
  const grace = worker.graceShare === null ? null : (worker.graceShare * worker.intervalMs) / 1000;
  const model = new GapTrend(worker.intervalMs / 1000, grace);
  const deadlineMs = worker.intervalMs + graceMs(grace, worker.intervalMs / 1000);
  const step = worker.intervalMs / READS_PER_INTERVAL;
  let lastPulse = 0;
  model.record(0);
  let gap = worker.nextGap();
  let raised = 0;
  let atRisk = false;
  let firstFlagMs: number | null = null;
  let missMs: number | null = null;
  let endMs = worker.endMs;
  for (let now = step; now < endMs; now += step) {
    // Pulses due by this read, unless the next gap misses: then the run ends at its deadline.
    while (gap !== null && gap <= deadlineMs && lastPulse + gap <= now) {
      lastPulse += gap;
      model.record(lastPulse);
      gap = worker.nextGap();
    }
    if (lastPulse + deadlineMs < now) {
      missMs = lastPulse + deadlineMs;
      endMs = missMs;
      break;
    }
    const trend = model.read(now);
    if (trend.at_risk && !atRisk) raised++;
    atRisk = trend.at_risk;
    if (atRisk && firstFlagMs === null && worker.degradesAfterMs !== undefined && now >= worker.degradesAfterMs) firstFlagMs = now;
  }
  return { raised, firstFlagMs, missMs, hours: endMs / HOUR_MS };
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
  let raised = 0;
  let healthyHours = 0;
  for (let i = 0; i < FLEET.stable + FLEET.bursty; i++) {
    const outcome = simulate(i < FLEET.stable ? stable(random) : bursty(random));
    raised += outcome.raised;
    healthyHours += outcome.hours;
  }
  let suddenFlagged = 0;
  for (let i = 0; i < FLEET.sudden; i++) if (simulate(sudden(random)).raised > 0) suddenFlagged++;
  const leads: number[] = [];
  let degraded = 0;
  for (let i = 0; i < FLEET.degrading; i++) {
    const worker = degrading(random);
    const outcome = simulate(worker);
    if (outcome.missMs === null) throw new Error('a degrading worker never missed');
    // A worker whose noise made it miss before it began to degrade is a sudden stop, not a trend.
    if (worker.degradesAfterMs === undefined || outcome.missMs < worker.degradesAfterMs) continue;
    degraded++;
    if (outcome.firstFlagMs !== null) leads.push((outcome.missMs - outcome.firstFlagMs) / worker.intervalMs);
  }
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
