import type { Scheduled } from './scheduler';
import { nextMissDeadline } from './status';

/** What a lane links: a service's timing, and the links the lane owns while it holds it. */
export interface LaneMember<T extends LaneMember<T>> {
  readonly intervalMs: number;
  readonly graceMs: number;
  /** Monotonic time of the last sign of life: the lane's order. */
  readonly lastSignAt: number;
  lane: SignLane<T> | null;
  lanePrevious: T | null;
  laneNext: T | null;
}

/**
 * The healthy services that share one interval and grace, in the order they last signed: a
 * doubly linked list through the records themselves, so its head is always the next of them
 * to miss a beat. The lane, not each service, waits in the scheduler's heap, for its head's
 * deadline: a pulse only moves its record to the tail (constant time, no allocation), and a
 * thousand services pulsing on time cost the timer one wake per grace period, not a heap
 * operation each per interval.
 */
export class SignLane<T extends LaneMember<T>> implements Scheduled {
  deadline = 0;
  heapIndex = -1;
  head: T | null = null;
  tail: T | null = null;

  constructor(
    /** The lane's key in its owner's map: the interval and grace its services share. */
    readonly key: string,
  ) {}

  /** The lane a record with these settings belongs to. */
  static keyOf(record: { readonly intervalMs: number; readonly graceMs: number }): string {
    return `${String(record.intervalMs)}/${String(record.graceMs)}`;
  }

  /** When the head misses its first beat (strictly after this instant), or `Infinity` for an empty lane. */
  headDeadline(): number {
    const head = this.head;
    return head === null ? Infinity : nextMissDeadline(head.lastSignAt, 0, head.intervalMs, head.graceMs);
  }

  /** Moves `record`, linked here and signed just now, to the tail: the hot path of a pulse. */
  touch(record: T): void {
    const tail = this.tail as T;
    if (tail === record) return;
    const previous = record.lanePrevious;
    const next = record.laneNext as T; // not the tail, so something follows it
    if (previous === null) this.head = next;
    else previous.laneNext = next;
    next.lanePrevious = previous;
    record.lanePrevious = tail;
    record.laneNext = null;
    tail.laneNext = record;
    this.tail = record;
  }

  /**
   * Links `record` in its place by `lastSignAt`, searching back from the tail: a record that
   * signed just now goes straight to the tail. Returns whether it became the head.
   */
  insert(record: T): boolean {
    let before = this.tail;
    while (before !== null && before.lastSignAt > record.lastSignAt) before = before.lanePrevious;
    const after = before === null ? this.head : before.laneNext;
    record.lane = this;
    record.lanePrevious = before;
    record.laneNext = after;
    if (before === null) this.head = record;
    else before.laneNext = record;
    if (after === null) this.tail = record;
    else after.lanePrevious = record;
    return before === null;
  }

  remove(record: T): void {
    const previous = record.lanePrevious;
    const next = record.laneNext;
    if (previous === null) this.head = next;
    else previous.laneNext = next;
    if (next === null) this.tail = previous;
    else next.lanePrevious = previous;
    record.lane = null;
    record.lanePrevious = null;
    record.laneNext = null;
  }
}
