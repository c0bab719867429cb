/**
 * A first-in, first-out queue of at most `capacity` items: adding to a full one drops the
 * oldest, and says how many went.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `item` last; returns how many of the oldest were dropped to make room (0 or 1). */
  push(item: T): number {
    this.items.push(item);
    return this.trim();
  }

  /** Puts `items` back in front, in their order (they were taken first); returns how many of the oldest were dropped. */
  pushFront(items: readonly T[]): number {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
    return this.trim();
  }

  /** Takes the next item out, or undefined. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head] as T;
    this.head++;
    if (this.head === this.items.length) this.clear();
    return item;
  }

  /** Takes every item out, oldest first. */
  takeAll(): T[] {
    const all = this.items.slice(this.head);
    this.clear();
    return all;
  }

  private trim(): number {
    const excess = Math.max(0, this.length - this.capacity);
    this.head += excess;
    // Reclaims the dropped prefix now and then, so dropping stays cheap and memory bounded.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return excess;
  }

  private clear(): void {
    this.items = [];
    this.head = 0;
  }
}
