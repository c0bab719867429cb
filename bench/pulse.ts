// pulse() against its physical floor, a bare performance.now() call: ns per op and bytes
// allocated per op, in interleaved rounds. Run with `npm run bench -- pulse` (or `--quick`).
//
// In a tight loop every pulse after the first lands in the same beat (within 1% of the
// interval: issue 20's gap model learns nothing from it); bench/pulse-gap.ts measures, in a
// process of its own, pulses that each record a gap.
import { performance } from 'node:perf_hooks';
import { HeartbeatManager } from '../lib';
import { allocatedBytesPerOp, figure, forkBenchmark, interleave, type Figure } from './measure';
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
  ];
}
