// pulse() against its physical floor, a bare performance.now() call: ns per op and bytes
// allocated per op, in interleaved rounds. Run with `npm run bench -- pulse` (or `--quick`).
//
// In a tight loop every pulse after the first lands in the same beat (within 1% of the
// interval: issue 20's gap model learns nothing from it), so a second heartbeat reads a clock
// that runs a second ahead on every read: each of its pulses ends a gap and records it, the
// work a pulse does in a real service. That clock costs a performance.now() and an addition.
import { performance } from 'node:perf_hooks';
import { HeartbeatManager } from '../lib';
import { allocatedBytesPerOp, figure, interleave, type Figure } from './measure';

export async function benchPulse(quick: boolean): Promise<Figure[]> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const heartbeat = manager.heartbeat({ tag: 'bench', interval: 30 }).start();
  // A Float64Array slot, not a closure variable: a double kept in a closure is boxed anew on every write.
  const ahead = new Float64Array(1);
  const gapClock = {
    now: () => performance.now() + (ahead[0] = (ahead[0] as number) + 1000),
    wallNow: () => Date.now() + (ahead[0] as number),
  };
  const gapManager = new HeartbeatManager({ config: { log_level: 'silent' }, clock: gapClock });
  const gapHeartbeat = gapManager.heartbeat({ tag: 'bench', interval: 30 }).start();
  // On that clock, an interval so long that every pulse is the same beat: what the clock costs a pulse, without a gap.
  const sameBeatHeartbeat = gapManager.heartbeat({ tag: 'same_beat', interval: 10_000_000 }).start();
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
    'gap clock read': () => {
      let local = 0;
      const started = performance.now();
      for (let i = 0; i < ops; i++) local += gapClock.now();
      const elapsed = performance.now() - started;
      sink += local;
      return (elapsed * 1e6) / ops;
    },
    'heartbeat.pulse(), a gap each': () => {
      const started = performance.now();
      for (let i = 0; i < ops; i++) gapHeartbeat.pulse();
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
  const sameBeatBytes = allocatedBytesPerOp((n) => {
    for (let i = 0; i < n; i++) sameBeatHeartbeat.pulse();
  });
  const gapPulseBytes = allocatedBytesPerOp((n) => {
    for (let i = 0; i < n; i++) gapHeartbeat.pulse();
  });
  void manager.close();
  void gapManager.close();
  if (sink === 42) console.log(''); // keeps the floor loop from being optimised away
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
    // The same bars against that clock's own read: a pulse that records its gap is still a pulse.
    figure('clock a second ahead per read (floor)', 'ns/op', nsPerOp['gap clock read']),
    figure('heartbeat.pulse(), each pulse a new gap', 'ns/op', nsPerOp['heartbeat.pulse(), a gap each'], {
      anchor: 'clock a second ahead per read (floor)',
      target: { text: '≤ 1.5× floor', limit: 1.5, on: 'ratio' },
    }),
    // Called from pulse(), that clock allocates twice (performance.now()'s number and the sum):
    // the floor is a pulse on the same clock that records no gap.
    figure('heartbeat.pulse() allocation, same clock, every pulse the same beat (floor)', 'bytes/op', sameBeatBytes),
    figure('heartbeat.pulse() allocation, each pulse a new gap', 'bytes/op', gapPulseBytes, {
      anchor: 'heartbeat.pulse() allocation, same clock, every pulse the same beat (floor)',
      target: { text: '≤ 1.01× floor (the gap allocates nothing)', limit: 1.01, on: 'ratio' },
    }),
  ];
}
