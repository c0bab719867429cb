import type { ServiceStatus } from './status';

/** One recorded status change of a service. */
export interface TransitionRecord {
  /** Monotonic milliseconds, on the manager's clock. */
  readonly at: number;
  readonly from: ServiceStatus;
  readonly to: ServiceStatus;
  readonly reason: string;
}

/** Default number of transitions kept per service. */
export const DEFAULT_HISTORY_SIZE = 1000;

/**
 * The last `capacity` transitions of one service, oldest first. A ring buffer: memory is
 * fixed at creation however long the process runs.
 */
export class TransitionLog {
  private readonly entries: (TransitionRecord | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity = DEFAULT_HISTORY_SIZE) {
    this.entries = new Array<TransitionRecord | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(entry: TransitionRecord): void {
    if (this.capacity === 0) return;
    if (this.count < this.capacity) {
      this.entries[(this.start + this.count) % this.capacity] = entry;
      this.count++;
    } else {
      this.entries[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  toArray(): TransitionRecord[] {
    const out: TransitionRecord[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.entries[(this.start + i) % this.capacity] as TransitionRecord);
    return out;
  }

  /** Drops every entry recorded before `cutoff` (monotonic ms). Returns how many went. */
  dropBefore(cutoff: number): number {
    let dropped = 0;
    while (this.count > 0 && (this.entries[this.start] as TransitionRecord).at < cutoff) {
      this.entries[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
      dropped++;
    }
    return dropped;
  }
}
