// Pulses that each record a gap (issue 20), for bench/pulse.ts, in a process of its own: the
// heartbeat reads a clock that runs a second ahead on every read, so each pulse ends a gap and
// records it, as in a real service. That clock costs a performance.now() and an addition.
import { performance } from 'node:perf_hooks';
import { HeartbeatManager } from '../lib';
import { allocatedBytesPerOp, figure, interleave, type Figure } from './measure';

/** What the child measures: ns per op by configuration, and bytes per op. */
export interface GapSamples {
  clockNs: number[];
  gapPulseNs: number[];
  sameBeatBytes: number[];
  gapPulseBytes: number[];
}

async function measure(quick: boolean): Promise<GapSamples> {
  // A Float64Array slot, not a closure variable: a double kept in a closure is boxed anew on every write.
  const ahead = new Float64Array(1);
  const clock = {
    now: () => performance.now() + (ahead[0] = (ahead[0] as number) + 1000),
    wallNow: () => Date.now() + (ahead[0] as number),
  };
  const manager = new HeartbeatManager({ config: { log_level: 'silent' }, clock });
  const heartbeat = manager.heartbeat({ tag: 'bench', interval: 30 }).start();
  // On that clock, an interval so long that every pulse is the same beat: what the clock costs a pulse, without a gap.
  const sameBeat = manager.heartbeat({ tag: 'same_beat', interval: 10_000_000 }).start();
  const ops = quick ? 1_000_000 : 10_000_000;
  let sink = 0;
  const nsPerOp = await interleave(quick ? 5 : 21, {
    clock: () => {
      let local = 0;
      const started = performance.now();
      for (let i = 0; i < ops; i++) local += clock.now();
      const elapsed = performance.now() - started;
      sink += local;
      return (elapsed * 1e6) / ops;
    },
    gapPulse: () => {
      const started = performance.now();
      for (let i = 0; i < ops; i++) heartbeat.pulse();
      return ((performance.now() - started) * 1e6) / ops;
    },
  });
  const sameBeatBytes = allocatedBytesPerOp((n) => {
    for (let i = 0; i < n; i++) sameBeat.pulse();
  });
  const gapPulseBytes = allocatedBytesPerOp((n) => {
    for (let i = 0; i < n; i++) heartbeat.pulse();
  });
  void manager.close();
  if (sink === 42) console.log(''); // keeps the floor loop from being optimised away
  return { clockNs: nsPerOp.clock, gapPulseNs: nsPerOp.gapPulse, sameBeatBytes, gapPulseBytes };
}

/** The figures of a child's samples: the same bars as a pulse's, against that clock. */
export function gapFigures(samples: GapSamples): Figure[] {
  return [
    figure('clock a second ahead per read (floor)', 'ns/op', samples.clockNs),
    figure('heartbeat.pulse(), each pulse a new gap', 'ns/op', samples.gapPulseNs, {
      anchor: 'clock a second ahead per read (floor)',
      target: { text: '≤ 1.5× floor', limit: 1.5, on: 'ratio' },
    }),
    // Called from pulse(), that clock allocates twice (performance.now()'s number and the sum):
    // the floor is a pulse on the same clock that records no gap.
    figure('heartbeat.pulse() allocation, same clock, every pulse the same beat (floor)', 'bytes/op', samples.sameBeatBytes),
    figure('heartbeat.pulse() allocation, each pulse a new gap', 'bytes/op', samples.gapPulseBytes, {
      anchor: 'heartbeat.pulse() allocation, same clock, every pulse the same beat (floor)',
      target: { text: '≤ 1.01× floor (the gap allocates nothing)', limit: 1.01, on: 'ratio' },
    }),
  ];
}

if (require.main === module) {
  void measure(process.argv[2] === 'quick').then((samples) => {
    process.send?.(samples, () => {
      process.disconnect();
    });
  });
}
