import { writeAtomic, writeAtomicSync } from './atomic-write';

const ignore = (): void => undefined;

/**
 * Snapshot writes that land, per file, in the order they were begun: the asynchronous ones one
 * at a time, and one that a later write overtook (a synchronous one, at exit) is dropped rather
 * than renamed over it.
 */
export class SnapshotWrites {
  private readonly queued = new Map<string, Promise<void>>();
  private readonly begun = new Map<string, number>();
  private readonly landed = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * Replaces `path` atomically; resolves once the write landed, or once it was dropped because a
   * newer write of `path` landed first (overtaken); rejects with the file system's error.
   */
  write(path: string, bytes: Buffer): Promise<void> {
    const number = this.begin(path);
    const write = (this.queued.get(path) ?? Promise.resolve()).then(async () => {
      if (await writeAtomic(path, bytes, () => (this.landed.get(path) ?? 0) < number)) this.landed.set(path, number);
    });
    const settled = write.then(ignore, ignore);
    this.queued.set(path, settled);
    this.inFlight.add(settled);
    void settled.then(() => {
      this.inFlight.delete(settled);
      if (this.queued.get(path) === settled) this.queued.delete(path);
    });
    return write;
  }

  /** {@link write}, synchronously: it lands at once, and overtakes the writes in flight. */
  writeSync(path: string, bytes: Buffer): void {
    const number = this.begin(path);
    writeAtomicSync(path, bytes);
    this.landed.set(path, number);
  }

  /** A promise of every write begun so far settling, or undefined if none is in flight. */
  settled(): Promise<void> | undefined {
    return this.inFlight.size === 0 ? undefined : Promise.all(this.inFlight).then(ignore);
  }

  private begin(path: string): number {
    const number = (this.begun.get(path) ?? 0) + 1;
    this.begun.set(path, number);
    return number;
  }
}
