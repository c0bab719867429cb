import type { Clock } from '../util/clock';
import { MAX_TIMER_DELAY_MS } from '../util/timers';

/** Something the scheduler can wake: it keeps its own place in the heap. */
export interface Scheduled {
  /** Monotonic time at which to wake it. Owned by the scheduler while queued. */
  deadline: number;
  /** Position in the heap, or -1 when not queued. Owned by the scheduler. */
  heapIndex: number;
}

/**
 * One timer for any number of deadlines: a binary min-heap of items, and a single
 * `setTimeout` armed for the earliest. Pulses never touch it; an item whose deadline has
 * passed (strictly: a deadline is the last instant at which nothing changes yet) is handed
 * to `onDue`, which decides whether it is really due and re-queues it.
 * The timer is `unref()`'d, so it never keeps a process alive, and re-armed rather than
 * free-running, so callbacks cannot pile up behind a blocked event loop.
 */
export class DeadlineScheduler<T extends Scheduled> {
  private readonly heap: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private firing = false;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (item: T, now: number) => void,
    /** Told how late each firing was, before the due items are handed over: a late timer means a blocked event loop. */
    private readonly onFired?: (lateMs: number, dueAt: number, now: number) => void,
    /** Told once every item due in a firing has been handed over, before the timer is armed again. */
    private readonly onSettled?: () => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Queues `item` for `deadline`, or moves it there if it is queued already. */
  schedule(item: T, deadline: number): void {
    if (this.closed) return;
    item.deadline = deadline;
    if (item.heapIndex === -1) {
      item.heapIndex = this.heap.length;
      this.heap.push(item);
      this.siftUp(item.heapIndex);
    } else {
      this.siftUp(item.heapIndex);
      this.siftDown(item.heapIndex);
    }
    // While firing, the timer is armed once at the end, for whatever is first by then.
    if (deadline < this.armedFor && !this.firing) this.arm();
  }

  remove(item: T): void {
    const index = item.heapIndex;
    if (index === -1) return;
    const last = this.heap.pop() as T;
    item.heapIndex = -1;
    if (last !== item) {
      this.heap[index] = last;
      last.heapIndex = index;
      this.siftUp(index);
      this.siftDown(last.heapIndex);
    }
    if (this.heap.length === 0) this.disarm();
  }

  /** Stops the timer and forgets every item. Nothing is scheduled afterwards. */
  close(): void {
    this.closed = true;
    this.disarm();
    for (const item of this.heap) item.heapIndex = -1;
    this.heap.length = 0;
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    this.disarm();
    const first = this.heap[0];
    if (!first || this.closed) return;
    // setTimeout rounds down to whole milliseconds; one more wakes us strictly after the deadline.
    // A deadline past 24.8 days (a monthly job) is waited for in links: a firing before it wakes nothing and re-arms.
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(first.deadline - this.clock.now()) + 1));
    this.armedFor = first.deadline;
    this.timer = setTimeout(this.fire, delay);
    this.timer.unref();
  }

  private readonly fire = (): void => {
    const dueAt = this.armedFor;
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    this.onFired?.(now - dueAt, dueAt, now);
    let first = this.heap[0];
    this.firing = true;
    try {
      // Strictly past due: an item woken at its deadline that queues itself again for that same
      // instant waits for the next firing instead of spinning this loop forever.
      while (first && first.deadline < now && !this.closed) {
        this.remove(first);
        this.onDue(first, now);
        first = this.heap[0];
      }
    } finally {
      this.firing = false;
      this.onSettled?.();
      this.arm();
    }
  };

  private siftUp(start: number): void {
    const heap = this.heap;
    let index = start;
    const item = heap[index] as T;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as T;
      if (parent.deadline <= item.deadline) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const length = heap.length;
    let index = start;
    const item = heap[index] as T;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && (heap[right] as T).deadline < (heap[left] as T).deadline ? right : left;
      const childItem = heap[child] as T;
      if (childItem.deadline >= item.deadline) break;
      heap[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}
