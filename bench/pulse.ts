// pulse() against its physical floor, a bare performance.now() call: ns per op and bytes
// allocated per op, in interleaved rounds. Run with `npm run bench -- pulse` (or `--quick`).
//
// In a tight loop every pulse after the first lands in the same beat (within 1% of the
// interval: issue 20's gap model learns nothing from it); bench/pulse-gap.ts measures, in a
// process of its own, pulses that each record a gap.
//
// Then the same call on managers holding 10 to 100,000 services, each pulsed in turn in an
// order shuffled once up front (the order of an application's pulses has nothing to do with
// the order its services were made in), and at the two large sizes in creation order too:
// what the size of the working set costs a pulse.
import { performance } from 'node:perf_hooks';
import { HeartbeatManager, type Heartbeat } from '../lib';
import { allocatedBytesPerOp, figure, forkBenchmark, interleave, seededOrder, type Figure } from './measure';
import { gapFigures, type GapSamples } from './pulse-gap';

export async function benchPulse(quick: boolean): Promise<Figure[]> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const heartbeat = manager.heartbeat({ tag: 'bench', interval: 30 }).start();
  const ops = quick ? 1_000_000 : 10_000_000;
  let sink = 0;

  const nsPerOp = await interleave(quick ? 5 : 21, {
    'performance.now()': () => {
      let local = 0;
      const started = performance.now();
      for (let i = 0; i < ops; i++) local += performance.now();
      const elapsed = performance.now() - started;
      sink += local;
      return (elapsed * 1e6) / ops;
    },
    'heartbeat.pulse()': () => {
      const started = performance.now();
      for (let i = 0; i < ops; i++) heartbeat.pulse();
      return ((performance.now() - started) * 1e6) / ops;
    },
  });
  const floorBytes = allocatedBytesPerOp((n) => {
    let local = 0;
    for (let i = 0; i < n; i++) local += performance.now();
    sink += local;
  });
  const pulseBytes = allocatedBytesPerOp((n) => {
    for (let i = 0; i < n; i++) heartbeat.pulse();
  });
  void manager.close();
  if (sink === 42) console.log(''); // keeps the floor loop from being optimised away
  const atScale = await pulsesAtScale(quick);
  // Its own process: a second clock type at pulse()'s clock call would slow the benchmarks run after it here.
  const gaps = await forkBenchmark<GapSamples>(require.resolve('./pulse-gap'), [quick ? 'quick' : 'full'], process.execArgv).received;
  return [
    figure('performance.now() (floor)', 'ns/op', nsPerOp['performance.now()']),
    figure('heartbeat.pulse()', 'ns/op', nsPerOp['heartbeat.pulse()'], {
      anchor: 'performance.now() (floor)',
      target: { text: '≤ 1.5× floor', limit: 1.5, on: 'ratio' },
    }),
    figure('performance.now() allocation (floor)', 'bytes/op', floorBytes),
    figure('heartbeat.pulse() allocation', 'bytes/op', pulseBytes, {
      anchor: 'performance.now() allocation (floor)',
      target: { text: '0 bytes', limit: 0, on: 'median' },
    }),
    ...gapFigures(gaps),
    ...atScale,
  ];
}

const SIZES = [10, 1_000, 10_000, 100_000];
/** Sizes also pulsed in creation order, beside the shuffled one. */
const IN_ORDER_SIZES = [10_000, 100_000];

interface Fleet {
  manager: HeartbeatManager;
  heartbeats: Heartbeat[];
  shuffled: Uint32Array;
  inOrder: Uint32Array;
}

function fleet(size: number): Fleet {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const heartbeats = Array.from({ length: size }, (_, i) => manager.heartbeat({ tag: `service_${i}`, interval: 30 }).start());
  for (const heartbeat of heartbeats) heartbeat.pulse();
  return { manager, heartbeats, shuffled: seededOrder(size, size), inOrder: Uint32Array.from({ length: size }, (_, i) => i) };
}

/** `ops` pulses, visiting `heartbeats` in `order` and starting over at its end. ns per pulse. */
function pulseInTurn(heartbeats: readonly Heartbeat[], order: Uint32Array, ops: number): number {
  let next = 0;
  const started = performance.now();
  for (let i = 0; i < ops; i++) {
    (heartbeats[order[next] as number] as Heartbeat).pulse();
    if (++next === order.length) next = 0;
  }
  return ((performance.now() - started) * 1e6) / ops;
}

/**
 * pulse() on a manager of N services, each pulsed in turn: every service is pulsed again
 * within milliseconds (a loop over 100,000 takes about 10 ms), well inside the 1% of its 30 s
 * interval that makes a pulse the same beat, so these are the figure above's pulses, on
 * records spread over N.
 */
async function pulsesAtScale(quick: boolean): Promise<Figure[]> {
  const fleets = new Map(SIZES.map((size) => [size, fleet(size)]));
  const ops = quick ? 200_000 : 1_000_000;
  const configurations: Record<string, () => number> = {};
  for (const [size, { heartbeats, shuffled, inOrder }] of fleets) {
    configurations[`shuffled${size}`] = () => pulseInTurn(heartbeats, shuffled, ops);
    if (IN_ORDER_SIZES.includes(size)) configurations[`inOrder${size}`] = () => pulseInTurn(heartbeats, inOrder, ops);
  }
  const nsPerOp = await interleave(quick ? 3 : 11, configurations);
  const largest = fleets.get(100_000) as Fleet;
  const bytes = allocatedBytesPerOp((n) => pulseInTurn(largest.heartbeats, largest.shuffled, n));
  for (const { manager } of fleets.values()) void manager.close();

  const shuffledName = (size: number): string =>
    `heartbeat.pulse(), ${size.toLocaleString('en-US')} services, pulsed in turn in a shuffled order`;
  const figures: Figure[] = [];
  for (const size of SIZES) {
    figures.push(
      figure(shuffledName(size), 'ns/op', nsPerOp[`shuffled${size}`] as number[], {
        ...(size === 100_000
          ? { anchor: shuffledName(10_000), target: { text: '≤ 1.25× the 10,000 figure (linear)', limit: 1.25, on: 'ratio' } }
          : { anchor: 'heartbeat.pulse()' }),
      }),
    );
  }
  for (const size of IN_ORDER_SIZES) {
    figures.push(
      figure(
        `heartbeat.pulse(), ${size.toLocaleString('en-US')} services, pulsed in turn in creation order`,
        'ns/op',
        nsPerOp[`inOrder${size}`] as number[],
        {
          anchor: shuffledName(size),
        },
      ),
    );
  }
  figures.push(
    figure('heartbeat.pulse() allocation, 100,000 services, pulsed in turn in a shuffled order', 'bytes/op', bytes, {
      anchor: 'heartbeat.pulse() allocation',
      target: { text: '≤ 1.01× one heartbeat (nothing per service)', limit: 1.01, on: 'ratio' },
    }),
  );
  return figures;
}
