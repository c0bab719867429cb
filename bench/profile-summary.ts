// What a V8 CPU profile (`node --cpu-prof`'s .cpuprofile) says about one hot path: the functions
// that take the most time themselves, and how the busy time splits between the library,
// prom-client, other packages, the scenario driving it, Node and V8, and the garbage collector.
// Each sample stands for the time to the next one, as Chrome DevTools attributes it: the
// sampling intervals are far from even (a sample of the garbage collector is often followed by
// a long gap), so counting samples would understate what runs between them.
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a .cpuprofile the summary reads (Chrome DevTools Protocol `Profiler.Profile`). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  /** The node on top of the stack at each sample. */
  samples: number[];
  /** Microseconds before each sample: from the profile's start for the first, from the previous sample for the others. */
  timeDeltas: number[];
}

export type Category = 'library' | 'prom-client' | 'packages' | 'scenario' | 'node' | 'gc' | 'program' | 'idle';

export const CATEGORY_NAMES: Record<Category, string> = {
  library: 'express-heartbeat (lib/)',
  'prom-client': 'prom-client',
  packages: 'other packages',
  scenario: 'the scenario driving it (bench/)',
  node: 'Node internals and V8 built-ins',
  gc: 'garbage collection',
  program: 'V8 itself, unattributed ("(program)")',
  idle: 'idle',
};

export interface FunctionRow {
  functionName: string;
  /** `file:line` (1-based), the file relative to the repository when it is in it. */
  location: string;
  category: Category;
  /** Samples with the function on top of the stack. */
  samples: number;
  /** Its self time, µs: each of those samples weighted by the time to the next sample. */
  micros: number;
  /** Its self time in percent of the busy time. */
  percent: number;
}

export interface ProfileSummary {
  /** Samples counted: those inside the window when the profile has one, else all of them. */
  samples: number;
  /** How many of them found the process idle, waiting for the event loop. */
  idle: number;
  /** The time the counted samples stand for, µs. */
  micros: number;
  /** The part of it idle, µs. */
  idleMicros: number;
  /** Whether the markers were found and only the samples between them counted. */
  windowed: boolean;
  /** The functions with the most self time, in percent of the busy (not idle) time. */
  top: FunctionRow[];
  /** Percent of the busy time in each category (`idle` is always 0). */
  shares: Record<Category, number>;
}

/**
 * The functions a scenario calls to mark where its hot path begins and ends: each spins long
 * enough to be sampled, and only the samples after the last one in the first and before the
 * first one in the second are counted, so setting up 10,000 services is left out.
 */
export const WINDOW_OPENS = 'profileWindowOpens';
export const WINDOW_CLOSES = 'profileWindowCloses';

/** Where a frame's code comes from, by its function name (V8's pseudo-frames) and its script's URL. */
export function categoryOf(functionName: string, url: string, root: string): Category {
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)' || functionName === '(root)') return 'program';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client';
  const path = pathOf(url, root);
  if (/^(build\/)?lib\//.test(path)) return 'library';
  if (/^(build\/)?bench\//.test(path)) return 'scenario';
  if (url === '' || url.startsWith('node:')) return 'node'; // V8's built-ins have no URL
  return 'packages';
}

/** A script URL as a path relative to the repository when it lies inside it. */
function pathOf(url: string, root: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (!isAbsolute(path)) return path;
  const inside = relative(root, path);
  return inside.startsWith('..') ? path : inside.split('\\').join('/');
}

/** The median of the intervals between samples (the first delta, from the profile's start, is not one). */
function medianInterval(timeDeltas: readonly number[]): number {
  const sorted = timeDeltas.slice(1).sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

/**
 * The summary of `profile`: the `limit` functions with the most self time (ties in the order
 * they were first sampled) and each category's share of the busy time. Sample `i` stands for the
 * time to the next sample, `timeDeltas[i + 1]` (the last, for the median interval; V8's rare
 * negative delta of a microsecond, for none). `root` is the repository, for the paths.
 */
export function summariseProfile(profile: CpuProfile, root: string, limit = 15): ProfileSummary {
  const { samples, timeDeltas } = profile;
  if (timeDeltas.length !== samples.length) {
    throw new Error(`The profile has ${samples.length} samples but ${timeDeltas.length} time deltas`);
  }
  const lastWeight = medianInterval(timeDeltas);
  const weightOf = (i: number): number => Math.max(0, i + 1 < timeDeltas.length ? (timeDeltas[i + 1] as number) : lastWeight);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const under = (id: number, name: string): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      if (byId.get(at)?.callFrame.functionName === name) return true;
    }
    return false;
  };

  let first = 0;
  let end = samples.length;
  let opened = samples.length - 1;
  while (opened >= 0 && !under(samples[opened] as number, WINDOW_OPENS)) opened--;
  const closed = samples.findIndex((id, i) => i > opened && under(id, WINDOW_CLOSES));
  const windowed = opened >= 0 && closed >= 0;
  if (windowed) [first, end] = [opened + 1, closed];

  const rows = new Map<string, FunctionRow>();
  const times = Object.fromEntries(Object.keys(CATEGORY_NAMES).map((category) => [category, 0])) as Record<Category, number>;
  let idle = 0;
  let micros = 0;
  for (let i = first; i < end; i++) {
    const node = byId.get(samples[i] as number);
    if (!node) throw new Error(`Sample ${i} names node ${samples[i]}, which the profile does not have`);
    const { functionName, url, lineNumber } = node.callFrame;
    const category = categoryOf(functionName, url, root);
    const weight = weightOf(i);
    times[category] += weight;
    micros += weight;
    if (category === 'idle') {
      idle++;
      continue;
    }
    const location = url === '' ? '' : `${pathOf(url, root)}:${lineNumber + 1}`;
    const key = `${functionName} ${location}`;
    const row = rows.get(key) ?? {
      functionName: functionName === '' ? '(anonymous)' : functionName,
      location,
      category,
      samples: 0,
      micros: 0,
      percent: 0,
    };
    row.samples += 1;
    row.micros += weight;
    rows.set(key, row);
  }
  const idleMicros = times.idle;
  times.idle = 0;
  const busy = micros - idleMicros;
  const percent = (time: number): number => (busy === 0 ? 0 : (100 * time) / busy);
  const top = [...rows.values()]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, limit)
    .map((row) => ({ ...row, percent: percent(row.micros) }));
  const shares = Object.fromEntries(Object.entries(times).map(([category, time]) => [category, percent(time)])) as Record<Category, number>;
  return { samples: end - first, idle, micros, idleMicros, windowed, top, shares };
}

/**
 * How many samples a summary counted over how long, and how much of it idle: "12,040 samples
 * over 4,012 ms, none idle".
 */
export function sampled(summary: ProfileSummary): string {
  const count = (n: number): string => n.toLocaleString('en-US');
  const ms = (micros: number): string => `${count(Math.round(micros / 1000))} ms`;
  const counted = `${count(summary.samples)} samples over ${ms(summary.micros)}`;
  if (summary.idle === 0) return `${counted}, none idle`;
  const share = summary.micros === 0 ? '0.0' : ((100 * summary.idleMicros) / summary.micros).toFixed(1);
  return `${counted}, ${share}% of it idle (${count(summary.idle)} ${summary.idle === 1 ? 'sample' : 'samples'}): the percentages are of the other ${ms(summary.micros - summary.idleMicros)}, the busy time`;
}

/** The summary as Markdown: the top functions, then the shares by category (those above zero), both in percent of the busy time. */
export function renderSummary(summary: ProfileSummary): string {
  const lines = ['| Self | Function | Where | Whose |', '| ---: | --- | --- | --- |'];
  for (const row of summary.top) {
    lines.push(
      `| ${row.percent.toFixed(1)}% | \`${row.functionName}\` | ${row.location === '' ? '(built-in)' : `\`${row.location}\``} | ${CATEGORY_NAMES[row.category]} |`,
    );
  }
  lines.push('', '| Share of busy time | Whose |', '| ---: | --- |');
  const shares = (Object.entries(summary.shares) as [Category, number][]).filter(([, share]) => share > 0).sort((a, b) => b[1] - a[1]);
  for (const [category, share] of shares) lines.push(`| ${share.toFixed(1)}% | ${CATEGORY_NAMES[category]} |`);
  return lines.join('\n');
}
