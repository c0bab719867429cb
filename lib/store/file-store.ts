import type { HeartbeatStore, SavedState, StoreContext, StoreHealth } from '../core/store';
import { OptionReader } from '../util/validate';
import { NewerFormatError } from './snapshot';
import { StateDirectory } from './state-directory';

/** What `fileStore()` takes. */
export interface FileStoreOptions {
  /** The state directory: created (mode 0700) if missing, and owned by one process at a time. */
  readonly dir: string;
  /**
   * Bytes the journal may reach before the state is compacted into a new snapshot; the journal
   * may also grow to twice the last snapshot, so compaction costs at most one snapshot per two
   * snapshots' worth of appends. Defaults to 8 MiB.
   */
  readonly compactAfterBytes?: number;
}

/** The snapshot file's name (`state.json`) and format; the data holds the generation of the journal that follows it. */
const SNAPSHOT = 'state';
const FORMAT = 1;
/** Journals are `journal-<generation>.log`: a compaction starts the next generation. */
const JOURNAL = /^journal-(\d{1,15})$/;
const DEFAULT_COMPACT_AFTER = 8 * 1024 * 1024;

interface SnapshotData {
  /** The first journal generation whose entries come after this snapshot. */
  readonly generation: number;
  readonly state: unknown;
}

/**
 * A store in a local directory, for one process (see docs/persistence.md): `state.json`, the
 * latest snapshot, replaced atomically; `journal-<n>.log`, the entries appended since, each
 * batch synced before the manager goes on; and `heartbeat.lock`, naming the process that owns
 * the directory. A compaction writes a new snapshot in the background and starts the next
 * journal; the old one is deleted once the snapshot is on disk, and read again if it is not.
 *
 * ```ts
 * const manager = new HeartbeatManager({ store: fileStore({ dir: './.heartbeat' }) });
 * ```
 */
export function fileStore(options: FileStoreOptions): HeartbeatStore {
  const read = new OptionReader('Invalid fileStore options');
  const given = read.object('', options, ['dir', 'compactAfterBytes']);
  if (typeof given.dir !== 'string' || given.dir === '') read.fail('dir', given.dir, 'a directory path, e.g. "./.heartbeat"');
  const compactAfterBytes =
    given.compactAfterBytes === undefined
      ? DEFAULT_COMPACT_AFTER
      : read.integer('compactAfterBytes', given.compactAfterBytes, 1024, 'of bytes, e.g. 8388608 (8 MiB)');
  return new FileStore(given.dir as string, compactAfterBytes);
}

class FileStore implements HeartbeatStore {
  readonly kind = 'file';
  private directory: StateDirectory | undefined;
  /** Why nothing may be written, when the directory holds state this version cannot read. */
  private readOnly: string | null = null;
  private generation = 0;
  /** Journals older than `generation` that a snapshot in flight will make obsolete. */
  private compacting = false;
  private lastSnapshotBytes = 0;
  /** An append failed, and no snapshot has saved the state since: the next append is preceded by one. */
  private resave = false;
  /** The directory could not be listed at the start: its journals may not all have been read. */
  private unlisted = false;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly compactAfterBytes: number,
  ) {}

  load(context: StoreContext): SavedState {
    if (this.directory || this.closed) {
      throw new Error(
        `This fileStore({ dir: ${JSON.stringify(this.dir)} }) is already used by a HeartbeatManager: give each manager its own store.`,
      );
    }
    const directory = StateDirectory.open({ dir: this.dir, logger: context.logger, clock: context.clock });
    this.directory = directory;
    let data: SnapshotData | null = null;
    try {
      const snapshot = directory.readSnapshot(SNAPSHOT, FORMAT);
      if (snapshot) data = snapshotData(snapshot.data);
      if (snapshot && !data)
        context.logger.warn({ dir: directory.dir }, `${directory.dir}/state.json holds no journal generation: its state is ignored`);
    } catch (error) {
      if (!(error instanceof NewerFormatError)) throw error;
      // Nothing is written over state a newer version made: monitoring runs in memory until it is upgraded.
      this.readOnly = error.message;
      context.logger.error({ dir: directory.dir }, `${error.message}; the store is read-only, and monitoring runs in memory`);
      return { snapshot: null, entries: [] };
    }
    this.generation = data?.generation ?? 0;
    this.lastSnapshotBytes = directory.snapshotSize(SNAPSHOT);
    const entries: unknown[] = [];
    for (const generation of this.journalGenerations()) {
      if (generation < this.generation) {
        directory.remove(journalName(generation), '.log'); // a compaction that landed before the crash
        continue;
      }
      for (const entry of directory.readJournal(journalName(generation))) entries.push(entry);
      this.generation = generation; // appends go on in the newest
    }
    const unreadable = directory.unreadable();
    if (this.unlisted) unreadable.unshift(`the list of ${directory.dir}`);
    if (unreadable.length > 0) {
      // A later compaction would make them obsolete and delete them unread: nothing is written
      // this run, and the next start reads them again.
      this.readOnly = `${unreadable.join(', ')} could not be read at the start; nothing is saved until a restart can read it`;
      context.logger.error({ dir: directory.dir }, `${this.readOnly}: monitoring runs in memory`);
    }
    return { snapshot: data?.state ?? null, entries };
  }

  append(entries: readonly unknown[], snapshot: () => unknown): boolean {
    const directory = this.directory;
    if (!directory || this.closed || this.readOnly !== null) return false;
    // Compacted before a batch is written, never after: the manager applies a status change
    // only once it is saved, so a snapshot taken after the batch would lack the change its
    // journal held, and the journal is deleted once the snapshot lands.
    // After a failed append, only a snapshot taken since may precede the next journaled batch.
    if (this.resave && this.compacting) return false;
    if (!this.compacting) {
      if (this.resave) {
        // An append failed: what it held is only in memory, and a journal that went on without
        // it would replay later batches over a gap. So every batch is preceded by a snapshot of
        // the whole state until one lands (while a disk stays full, each try costs a snapshot's
        // serialization, and fails at its first write).
        this.compact(directory, snapshot());
      } else if (directory.journalSize(journalName(this.generation)) > this.compactionThreshold()) {
        this.compact(directory, snapshot());
      }
    }
    const saved = directory.appendJournal(journalName(this.generation), entries);
    if (!saved) this.resave = true;
    return saved;
  }

  health(): StoreHealth {
    if (!this.directory) return { state: 'ok', lastError: null, errors: 0, lastWriteAt: null };
    const status = this.directory.status();
    if (this.readOnly !== null) return { ...status, state: 'degraded', lastError: this.readOnly };
    return status;
  }

  close(snapshot: unknown): Promise<void> {
    const directory = this.directory;
    if (!directory || this.closed) return Promise.resolve();
    this.closed = true;
    if (this.readOnly === null && snapshot !== undefined) {
      const previous = this.generation;
      const next = previous + 1;
      // The final state, synchronously: the process may exit as soon as close() returns.
      if (directory.writeSnapshotSync(SNAPSHOT, FORMAT, { generation: next, state: snapshot } satisfies SnapshotData)) {
        for (const generation of this.journalGenerations()) if (generation < next) directory.remove(journalName(generation), '.log');
      }
    }
    return directory.close();
  }

  private compactionThreshold(): number {
    return Math.max(this.compactAfterBytes, 2 * this.lastSnapshotBytes);
  }

  /**
   * Starts the next journal at once and writes `state` as the snapshot that precedes it, in the
   * background. Until the snapshot lands, a restart reads the old snapshot and every journal
   * since; once it lands, the older journals go.
   */
  private compact(directory: StateDirectory, state: unknown): void {
    const next = this.generation + 1;
    const resaving = this.resave;
    const writing = directory.writeSnapshot(SNAPSHOT, FORMAT, { generation: next, state } satisfies SnapshotData);
    this.generation = next;
    this.compacting = true;
    this.resave = false;
    void writing.then((saved) => {
      this.compacting = false;
      if (!saved && resaving) this.resave = true;
      if (!saved || this.closed) return;
      this.lastSnapshotBytes = directory.snapshotSize(SNAPSHOT);
      for (const generation of this.journalGenerations()) if (generation < next) directory.remove(journalName(generation), '.log');
    });
  }

  /** The generations of the journals in the directory, oldest first; none (nothing deleted) if it cannot be listed. */
  private journalGenerations(): number[] {
    const generations: number[] = [];
    const names = (this.directory as StateDirectory).names('.log');
    if (names === undefined) {
      this.unlisted = true;
      return generations;
    }
    for (const name of names) {
      const match = JOURNAL.exec(name);
      if (match) generations.push(Number(match[1]));
    }
    return generations.sort((a, b) => a - b);
  }
}

function journalName(generation: number): string {
  return `journal-${generation}`;
}

function snapshotData(data: unknown): SnapshotData | null {
  if (typeof data !== 'object' || data === null) return null;
  const { generation, state } = data as Partial<SnapshotData>;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) return null;
  return { generation, state: state ?? null };
}
