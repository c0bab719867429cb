// npm run profile [-- NAME …]: a CPU profile of each hot path, each in a process of its own run
// under `node --cpu-prof`, summarised (the functions taking the most time, and whose code
// they are) in bench/profiles/README.md beside the raw .cpuprofile files, which open in Chrome
// DevTools (Performance tab) or speedscope.
//
// The same file is the child: `node --cpu-prof … build/bench/profile.js NAME` sets up its scenario,
// runs the hot path for a few seconds between two marker functions (so the setup is left out of
// the summary) and sends back what it did. `npm run profile -- NAME …` profiles those alone and
// prints their summaries; the README is written by a run of every hot path.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { format, resolveConfig } from 'prettier';
import { HeartbeatManager } from '../lib';
import { renderMetrics } from '../lib/metrics/render';
import { pulsedFleet } from './fleet';
import { forkBenchmark } from './measure';
import { FAN_OUT, profileFanOut, type ProfileWindow } from './profile-fanout';
import { renderSummary, sampled, summariseProfile, WINDOW_CLOSES, WINDOW_OPENS, type CpuProfile } from './profile-summary';

const SERVICES = 10_000;
/** Seconds of hot path per profile: about 10,000 samples at the interval below (the profiler's ticks run late). */
const SECONDS = 4;
/** Microseconds between samples (V8's default is 1,000). */
const INTERVAL_US = 250;
/** The flags the benchmarks run with (package.json's bench script), so the collector works alike. */
const HEAP_FLAGS = ['--min-semi-space-size=64', '--max-semi-space-size=64'];
const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'bench', 'profiles');

/** What one scenario did in its window, in words: "78,000,000 pulses in 4.0 s, 51 ns each". */
type Done = string;

interface Scenario {
  /** What runs in the window, for the README. */
  what: string;
  run: () => Promise<Done>;
}

/**
 * Busy for 20 ms of the process's CPU time and 50 ms of wall time, whichever ends later, so that
 * the profile holds samples of the marker calling it: on a busy machine, 20 ms of wall time may
 * pass without a sample; and the process's CPU time counts every thread's, so right after a
 * large setup the collector's helper threads can use up 20 ms of it while this one barely runs.
 */
function spin(): void {
  const { user, system } = process.cpuUsage();
  const until = user + system + 20_000;
  const wallUntil = performance.now() + 50;
  for (;;) {
    const used = process.cpuUsage();
    if (used.user + used.system >= until && performance.now() >= wallUntil) return;
  }
}
function profileWindowOpens(): void {
  spin();
}
function profileWindowCloses(): void {
  spin();
}
if (profileWindowOpens.name !== WINDOW_OPENS || profileWindowCloses.name !== WINDOW_CLOSES) {
  throw new Error('The window markers are not named as bench/profile-summary.ts looks for them');
}

/**
 * Calls `marker` from a callback of its own: called in the hot loop's function, it would be
 * inlined once that function is optimised, and would leave no frame in the profile.
 */
const mark = (marker: () => void): Promise<void> =>
  new Promise((resolve) =>
    setImmediate(() => {
      marker();
      resolve();
    }),
  );

const profileWindow: ProfileWindow = { open: () => mark(profileWindowOpens), close: () => mark(profileWindowCloses) };

/** "51 ns", "8.2 µs", "49.6 ms". */
function duration(seconds: number): string {
  if (seconds < 1e-6) return `${(seconds * 1e9).toFixed(0)} ns`;
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(1)} µs`;
  return `${(seconds * 1e3).toFixed(1)} ms`;
}

/**
 * Calls `operation` over and over for SECONDS between the markers, and says how many calls of
 * `batch` `things` each it made. The lengths it returns are summed, so no work can be
 * optimised away.
 */
async function inWindow(things: string, operation: () => number | Promise<number>, batch = 1): Promise<Done> {
  let calls = 0;
  let produced = 0;
  await profileWindow.open();
  const started = performance.now();
  const until = started + SECONDS * 1000;
  while (performance.now() < until) {
    produced += await operation();
    calls++;
  }
  const seconds = (performance.now() - started) / 1000;
  await profileWindow.close();
  if (produced === 0) throw new Error('The hot path produced nothing');
  const count = calls * batch;
  return `${count.toLocaleString('en-US')} ${things} in ${seconds.toFixed(1)} s, ${duration(seconds / count)} each under the profiler`;
}

const n = SERVICES.toLocaleString('en-US');

const SCENARIOS: Record<string, Scenario> = {
  pulse: {
    what: `\`heartbeat.pulse()\` round-robin over ${n} services in a tight loop`,
    run: async () => {
      const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
      const beats = Array.from({ length: SERVICES }, (_, i) => manager.heartbeat({ tag: `service_${i}`, interval: 30 }).start());
      // A call is a round of every service, so the window's own clock read is 1 in 10,000 pulses.
      const pulseEach = (): number => {
        for (const beat of beats) beat.pulse();
        return beats.length;
      };
      const done = await inWindow('pulses', pulseEach, SERVICES);
      void manager.close();
      return done;
    },
  },
  scrape: {
    what: `\`renderMetrics(registry)\`, the router's \`/metrics\` body, at ${n} services`,
    run: async () => {
      const { manager, registry } = pulsedFleet(SERVICES);
      const scrape = async (): Promise<number> => (await renderMetrics(registry)).length;
      const done = await inWindow('scrapes', scrape);
      void manager.close();
      return done;
    },
  },
  'scrape-registry': {
    what: `\`registry.metrics()\`, prom-client formatting the same families, at ${n} services`,
    run: async () => {
      const { manager, registry } = pulsedFleet(SERVICES);
      const scrapeRegistry = async (): Promise<number> => (await registry.metrics()).length;
      const done = await inWindow('scrapes', scrapeRegistry);
      void manager.close();
      return done;
    },
  },
  status: {
    what: `\`JSON.stringify(manager.statusView())\`, the status endpoint's body, at ${n} services`,
    run: async () => {
      const { manager } = pulsedFleet(SERVICES);
      // JSON.stringify is a V8 built-in with no frame of its own: its samples land on this function.
      const stringifyStatusView = (): number => JSON.stringify(manager.statusView()).length;
      const done = await inWindow('bodies', stringifyStatusView);
      void manager.close();
      return done;
    },
  },
  'fan-out': {
    what: `The live stream of ${FAN_OUT.services.toLocaleString('en-US')} services pulsing every second to ${FAN_OUT.clients.toLocaleString('en-US')} SSE clients (in another process), while ${FAN_OUT.stopsPerSecond} services a second stop pulsing and ${FAN_OUT.stopsPerSecond} resume`,
    run: () => profileFanOut(profileWindow),
  },
};

/** The Node flags that profile `name` into `dir`. */
function profileArgs(name: string, dir: string): string[] {
  return [...HEAP_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`, `--cpu-prof-interval=${INTERVAL_US}`];
}

/** Profiles `name` into `dir` and summarises it as a README section. */
async function profile(name: string, dir: string): Promise<string> {
  const started = new Date();
  const { child, received } = forkBenchmark<Done>(__filename, [name], profileArgs(name, dir));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const done = await received;
  const code = await exited;
  if (code !== 0) throw new Error(`The ${name} profile's process exited with ${code}`);
  const file = join(dir, `${name}.cpuprofile`);
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, ROOT);
  if (!summary.windowed) throw new Error(`The ${name} profile has no window: its markers were not sampled`);
  const busy = summary.samples - summary.idle;
  if (busy < 2000) console.warn(`The ${name} profile has only ${busy} busy samples: too few to rank functions below a few percent`);
  const command = `node ${profileArgs(name, dir === OUT ? relative(ROOT, dir) : dir).join(' ')} build/bench/profile.js ${name}`;
  return [
    `## ${name}`,
    '',
    `${(SCENARIOS[name] as Scenario).what}: ${done}. ${started.toISOString()}; ${sampled(summary)}; ` +
      (dir === OUT ? `[${name}.cpuprofile](${name}.cpuprofile).` : `${file}.`),
    '',
    '```sh',
    command,
    '```',
    '',
    renderSummary(summary),
  ].join('\n');
}

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  for (const name of chosen) {
    if (!SCENARIOS[name]) throw new Error(`Unknown hot path "${name}"; choose from ${Object.keys(SCENARIOS).join(', ')}.`);
  }
  const cpu = cpus();
  const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}`;
  const loadBefore = loadavg()[0] as number;
  const started = Date.now();
  // A run of some hot paths leaves the kept profiles, which go with the README, as they are.
  const dir = chosen.length > 0 ? mkdtempSync(join(tmpdir(), 'heartbeat-profile-')) : OUT;
  const sections: string[] = [];
  for (const name of Object.keys(SCENARIOS)) {
    if (chosen.length > 0 && !chosen.includes(name)) continue;
    const section = await profile(name, dir);
    console.log(`${section}\n`);
    sections.push(section);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`${seconds.toFixed(1)} s in all`);
  if (chosen.length > 0) {
    console.log(`Profiles in ${dir}; bench/profiles/ is written only by a run of every hot path.`);
    return;
  }
  const readme = [
    '# Profiles of the hot paths',
    '',
    `Written by \`npm run profile\` (bench/profile.ts) on ${new Date(started).toISOString()}: ${machine}; ` +
      `1-minute load average ${loadBefore.toFixed(2)} before and ${(loadavg()[0] as number).toFixed(2)} after, ${seconds.toFixed(0)} s in all.`,
    '',
    `Each hot path runs in a process of its own under \`node --cpu-prof\`, sampled every ${INTERVAL_US} µs, ` +
      `for ${SECONDS} s (the fan-out ${FAN_OUT.seconds} s) between two marker functions (\`${WINDOW_OPENS}\`, ` +
      `\`${WINDOW_CLOSES}\`): only the samples between them are counted, so setting up the services is left out ` +
      '(the raw profiles hold all of it). Each sample counts for the time to the next one, as in Chrome ' +
      "DevTools (the profiler's ticks come late after a collection, so counting samples understates the " +
      'collector); time that found the process idle is left out of the percentages, which are of the busy ' +
      'time. Self time is the share of it with the function on top of the stack; a ' +
      "V8 built-in such as `JSON.stringify` has no frame of its own, so its time is its caller's, and a function " +
      'inlined by the optimising compiler is not always told apart from its caller (part of `pulse()` shows as ' +
      "the scenario's `pulseEach`). Files are " +
      'the compiled ones (`build/lib/core/monitor.js` is `lib/core/monitor.ts`), with the line in the compiled ' +
      'file. The `.cpuprofile` files open in Chrome DevTools (Performance, "Load profile") or ' +
      '<https://www.speedscope.app>. `npm run profile -- status` profiles one hot path again into a temporary ' +
      'directory and prints its summary.',
    '',
    ...sections.flatMap((section) => [section, '']),
  ].join('\n');
  // Formatted as `npm run lint` checks it (prettier aligns the tables' columns).
  const path = join(OUT, 'README.md');
  writeFileSync(path, await format(readme, { ...(await resolveConfig(path)), parser: 'markdown' }));
  console.log(`Wrote ${path}`);
}

if (process.execArgv.includes('--cpu-prof')) {
  const name = process.argv[2] ?? '';
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`Unknown hot path "${name}"; choose from ${Object.keys(SCENARIOS).join(', ')}.`);
  void scenario.run().then((done) => {
    process.send?.(done, () => {
      process.disconnect();
    });
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
