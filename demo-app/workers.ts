import type { Heartbeat } from '../lib';

/**
 * A simulated background worker in the seed's pattern: do a little work, then pulse; report
 * a failure with error(). The demo controls can stall it (it keeps looping but stops
 * pulsing, like a worker stuck on a lock) and make its next rounds fail or crash.
 */
export class SimulatedWorker {
  stalled = false;
  private timer: NodeJS.Timeout | undefined;
  private processed = 0;

  constructor(readonly heartbeat: Heartbeat) {}

  start(): void {
    this.heartbeat.start();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heartbeat.stop();
  }

  fail(message: string, critical: boolean): void {
    this.heartbeat.error(message, { critical });
  }

  private schedule(): void {
    // Three rounds per interval: a healthy worker pulses well inside its deadline.
    this.timer = setTimeout(
      () => {
        this.round();
      },
      (this.heartbeat.interval * 1000) / 3,
    );
  }

  private round(): void {
    if (!this.stalled) {
      this.processed += simulatedWork();
      this.heartbeat.pulse();
    }
    this.schedule();
  }
}

/** A few microseconds of real work, standing in for processing a queue. */
function simulatedWork(): number {
  let checksum = 0;
  for (let i = 0; i < 1000; i++) checksum = (checksum * 31 + i) | 0;
  return checksum === 42 ? 0 : 1;
}
