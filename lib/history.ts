import type { ServiceStatus } from './status';

/** One recorded status change of a service. */
export interface TransitionRecord {
  /** Monotonic milliseconds, on the manager's clock. */
  readonly at: number;
  readonly from: ServiceStatus;
  readonly to: ServiceStatus;
  readonly reason: string;
}

/**
 * The last `capacity` transitions of one service, oldest first. A ring buffer that grows to
 * its capacity as entries come, so a quiet service costs nothing and a busy one stays bounded.
 */
export class TransitionLog {
  private readonly entries: (TransitionRecord | undefined)[] = [];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  push(entry: TransitionRecord): void {
    if (this.capacity === 0) return;
    if (this.count < this.capacity) {
      const index = (this.start + this.count) % this.capacity;
      if (index === this.entries.length) this.entries.push(entry);
      else this.entries[index] = entry;
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
