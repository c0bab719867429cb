import { constants, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../util/clock';
import { OptionReader } from '../util/validate';
import { isTemporary, syncDirectory, syncFile } from './atomic-write';
import { asideName, pruneAside } from './aside';
import { codeOf, isStorageFault, messageOf } from './fs-errors';
import { guardedLog, type StoreLog } from './guarded-log';
import { damageOf, parseJournal, serializeEntries } from './journal';
import { OpenJournals } from './open-journals';
import { LOCK_STALE_MS, acquireLock, type DirectoryLock } from './lock';
import { parseSnapshot, serializeSnapshot, type Snapshot } from './snapshot';
import { SnapshotWrites } from './snapshot-writes';
import { WriteHealth, type StoreStatus } from './write-health';

export interface StateDirectoryOptions {
  /** The directory; created, with its parents, if missing. */
  readonly dir: string;
  /** Where corrupt files, takeovers and write failures are logged. */
  readonly logger: Logger;
  /** Wall time for `written_at`, the `.corrupt-` names and `lastWriteAt`. Defaults to the system clock. */
  readonly clock?: Clock;
}

/** A file that could not be read and is not moved aside yet: it is never overwritten meanwhile. */
interface Unmoved {
  readonly problem: string;
  /** Set aside as a copy (a journal whose good lines stay in use) rather than renamed. */
  readonly copy: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const LOCK = 'lock';

/**
 * One state directory, owned by one process: snapshots (`<name>.json`, replaced atomically),
 * journals (`<name>.log`, one JSON array of entries per append, appended and synced before the caller goes on) and the
 * single-writer lock. Writes never throw on a storage failure: the store turns `degraded`,
 * logs once per error code, and is `ok` again once the failed files are written.
 */
export class StateDirectory {
  private lock: DirectoryLock | undefined;
  private closing: Promise<void> | undefined;
  private readonly journals = new OpenJournals();
  private readonly snapshots = new SnapshotWrites();
  private readonly unmoved = new Map<string, Unmoved>();
  /** Files left as they are and not replaced until read again, with the reason: a newer format, a storage fault reading them. */
  private readonly kept = new Map<string, Error>();
  private readonly health: WriteHealth;

  /**
   * Opens `dir`, creating it, and takes its lock. Throws if another live process holds it,
   * naming the directory and its PID, or if `dir` cannot be a directory. A storage fault (a
   * read-only or full disk) does not throw: the store starts degraded and takes the lock at
   * the first write that can.
   */
  static open(options: StateDirectoryOptions): StateDirectory {
    const read = new OptionReader('Invalid state directory options');
    const given = read.object('', options, ['dir', 'logger', 'clock']);
    const { dir, logger } = given as { dir: unknown; logger: Logger | undefined };
    if (typeof dir !== 'string' || dir === '') return read.fail('dir', dir, 'a directory path');
    if (typeof logger?.warn !== 'function') return read.fail('logger', logger, 'a pino logger');
    const clock = (given.clock as Clock | undefined) ?? systemClock;
    const store = new StateDirectory(resolve(dir), guardedLog(logger), clock);
    store.takeLock(true);
    return store;
  }

  private constructor(
    /** The directory's absolute path. */
    readonly dir: string,
    private readonly logger: StoreLog,
    private readonly clock: Clock,
  ) {
    this.health = new WriteHealth(dir, logger, clock);
  }

  status(): StoreStatus {
    return this.health.status();
  }

  /**
   * The snapshot `<name>.json`, or undefined if there is none or it could not be read (then it
   * is moved aside as `<name>.json.corrupt-<time>` and logged). Throws {@link NewerFormatError}
   * for a format above `formatVersion`, leaving the file in place: writes to it then fail
   * (degraded) until a read finds it readable.
   */
  readSnapshot(name: string, formatVersion: number): Snapshot | undefined {
    this.checkOpen();
    const path = this.pathOf(name, '.json');
    checkFormat(formatVersion);
    const bytes = this.readFile(path);
    if (bytes === undefined) return undefined;
    let snapshot: ReturnType<typeof parseSnapshot>;
    try {
      snapshot = parseSnapshot(path, bytes, formatVersion);
    } catch (error) {
      this.kept.set(path, error as Error); // writing would destroy what this version cannot read
      throw error;
    }
    if (!('problem' in snapshot)) return snapshot;
    this.setAside(path, snapshot.problem, false);
    return undefined;
  }

  /**
   * Replaces `<name>.json` atomically (temporary file, fsync, rename). Resolves to true once
   * saved, or once a newer write of the name was saved first (this older one is then dropped);
   * false if it could not be saved. Never rejects; throws at once only for a caller bug: a bad
   * name or format version, or data that is not JSON.
   */
  writeSnapshot(name: string, formatVersion: number, data: unknown): Promise<boolean> {
    const path = this.pathOf(name, '.json');
    const bytes = this.serialized(path, formatVersion, data);
    if (!bytes || !this.readyToWrite(path, false)) return Promise.resolve(false);
    return this.snapshots.write(path, bytes).then(
      () => this.wrote(path),
      (error: unknown) => this.failed(path, error, `writing ${path}`),
    );
  }

  /**
   * {@link writeSnapshot}, done before returning: for the last save when the process exits.
   * An asynchronous write of the same name still in flight is dropped rather than land after it.
   */
  writeSnapshotSync(name: string, formatVersion: number, data: unknown): boolean {
    const path = this.pathOf(name, '.json');
    const bytes = this.serialized(path, formatVersion, data);
    if (!bytes || !this.readyToWrite(path, false)) return false;
    try {
      this.snapshots.writeSync(path, bytes);
      return this.wrote(path);
    } catch (error) {
      return this.failed(path, error, `writing ${path}`);
    }
  }

  /**
   * The entries of `<name>.log`, in the order appended. A torn last line (a crash in
   * mid-append) is dropped and cut off the file. A complete line that does not parse is
   * skipped; the file is then copied aside as `<name>.log.corrupt-<time>`, logged, and
   * rewritten with the entries that parsed, so nothing readable is lost and nothing
   * unreadable is destroyed.
   */
  readJournal(name: string): unknown[] {
    this.checkOpen();
    const path = this.pathOf(name, '.log');
    const bytes = this.readFile(path);
    if (bytes === undefined) return [];
    const { entries, completeBytes, tornBytes, badLines } = parseJournal(bytes);
    this.journals.of(path).reset(completeBytes); // appends go on from what was read
    if (badLines.length > 0) {
      this.setAside(path, damageOf(badLines), true, entries);
    } else if (tornBytes > 0) {
      this.logger.warn({ path, bytes: tornBytes }, `${path}: dropped a torn last line (${tornBytes} bytes) left by a crash in mid-append`);
      this.cutTornLine(path);
    }
    return entries;
  }

  /**
   * Appends `entries` to `<name>.log` as one line, all or nothing, and syncs them to disk before returning:
   * the write-ahead log, called before anyone hears of what it records. Returns whether they
   * are durable; never throws on a storage failure (a failed append leaves no partial line).
   * Throws at once only for a caller bug: a bad name, or an entry that is not JSON.
   */
  appendJournal(name: string, entries: readonly unknown[]): boolean {
    const path = this.pathOf(name, '.log');
    const bytes = serializeEntries(entries);
    if (!this.readyToWrite(path, true)) return false;
    if (bytes.length === 0) return true;
    try {
      this.journals.of(path).append(bytes);
      return this.wrote(path);
    } catch (error) {
      return this.failed(path, error, `appending to ${path}`);
    }
  }

  /**
   * Replaces `<name>.log` with `entries`, atomically: compaction, to keep a journal bounded
   * (when is the caller's choice). Synchronous, so no append can fall between the old file
   * and the new one. Returns whether it was saved; throws, as appendJournal does, only for a caller bug.
   */
  rewriteJournal(name: string, entries: readonly unknown[]): boolean {
    const path = this.pathOf(name, '.log');
    const bytes = serializeEntries(entries);
    if (!this.readyToWrite(path, false)) return false;
    try {
      this.journals.replace(path, bytes);
      return this.wrote(path);
    } catch (error) {
      return this.failed(path, error, `rewriting ${path}`);
    }
  }

  /** The files a read failed on with a storage fault (no permission, EIO, out of descriptors): left as they are, and not to be replaced. */
  unreadable(): string[] {
    return [...this.kept.entries()].filter(([, error]) => isStorageFault(error)).map(([path]) => path);
  }

  /** Bytes of complete lines in `<name>.log` as last read or appended; 0 before either. */
  journalSize(name: string): number {
    return this.journals.of(this.pathOf(name, '.log')).completeBytes ?? 0;
  }

  /** Bytes in `<name>.json` now, or 0 if there is none. */
  snapshotSize(name: string): number {
    try {
      return statSync(this.pathOf(name, '.json')).size;
    } catch {
      return 0;
    }
  }

  /**
   * The names of the files with `extension` (`.json` or `.log`) in the directory, those set
   * aside not included; undefined if the directory could not be listed (logged, degraded).
   */
  names(extension: '.json' | '.log'): string[] | undefined {
    this.checkOpen();
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch (error) {
      this.health.failed(this.dir, error, `listing ${this.dir}`);
      return undefined;
    }
    const names: string[] = [];
    for (const file of files) {
      if (!file.endsWith(extension)) continue;
      const name = file.slice(0, -extension.length);
      if (NAME.test(name)) names.push(name);
    }
    return names;
  }

  /**
   * Deletes `<name>.json` or `<name>.log` (a journal a snapshot made obsolete). Returns whether
   * it is gone; a failure is logged and leaves the store degraded, as a failed write does.
   */
  remove(name: string, extension: '.json' | '.log'): boolean {
    const path = this.pathOf(name, extension);
    if (!this.readyToWrite(path, false)) return false;
    this.journals.forget(path);
    try {
      unlinkSync(path);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') return this.failed(path, error, `removing ${path}`);
    }
    this.kept.delete(path);
    return this.wrote(path);
  }

  /**
   * Closes the journals and releases the lock, once the snapshot writes in flight are done
   * (at once if there are none). Later writes are ignored; calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.journals.closeAll();
    const release = (): void => {
      this.lock?.release();
      this.lock = undefined;
    };
    const writing = this.snapshots.settled();
    if (writing) {
      this.closing = writing.then(release);
    } else {
      release();
      this.closing = Promise.resolve();
    }
    return this.closing;
  }

  private pathOf(name: string, extension: string): string {
    if (!NAME.test(name)) throw new Error(`State file name ${JSON.stringify(name)}: use 1 to 100 letters, digits, _ and -`);
    return join(this.dir, `${name}${extension}`);
  }

  /** Reads after `close()` are a bug: another process may own the directory by then. */
  private checkOpen(): void {
    if (this.closing) throw new Error(`The state directory ${this.dir} is closed`);
  }

  /** The snapshot's bytes, or undefined (a failed write) for data past the longest string V8 makes (about 512 MB). */
  private serialized(path: string, formatVersion: number, data: unknown): Buffer | undefined {
    checkFormat(formatVersion);
    try {
      return Buffer.from(serializeSnapshot(formatVersion, this.clock.wallNow(), data), 'utf8');
    } catch (error) {
      if (!(error instanceof RangeError)) throw error; // not JSON: a caller bug
      this.failed(path, error, `serializing ${path} (the state is too large for one JSON string)`);
      return undefined;
    }
  }

  /** Takes the lock if it is not held yet; at `open`, anything but a storage fault throws. */
  private takeLock(opening: boolean): boolean {
    if (this.lock) return true;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 }); // its files hold paths and error messages
      this.lock = acquireLock(realpathSync(this.dir));
    } catch (error) {
      if (opening && !isStorageFault(error)) throw error;
      this.health.failed(LOCK, error, `taking the lock of ${this.dir}`);
      return false;
    }
    this.health.recovered(LOCK);
    const previous = this.lock.tookOverFrom;
    if (previous !== undefined) {
      const why = this.lock.leaseExpired
        ? `of another host or PID namespace, whose lock was not renewed for ${LOCK_STALE_MS / 1000} s`
        : 'which is no longer running';
      this.logger.warn({ dir: this.dir, pid: previous }, `took over ${this.dir} from process ${previous}, ${why}`);
    }
    this.removeTemporaryFiles();
    return true;
  }

  /** Removes the temporary files of writes cut short by a crash: only the lock's holder writes here. */
  private removeTemporaryFiles(): void {
    try {
      for (const name of readdirSync(this.dir)) if (isTemporary(name)) unlinkSync(join(this.dir, name));
    } catch {
      // Left for the next start: they take space, but no reader mistakes them for state.
    }
  }

  /** Whether `path` may be written now: the store is open, the lock held and any unreadable file there set aside. */
  private readyToWrite(path: string, appending: boolean): boolean {
    if (this.closing || !this.takeLock(false)) return false;
    const kept = this.kept.get(path);
    if (kept && !appending) return this.failed(path, kept, `writing ${path}`); // an append keeps what is there
    const unmoved = this.unmoved.get(path);
    if (!unmoved || (appending && unmoved.copy)) return true; // an append leaves a damaged journal's lines as they are
    return this.setAside(path, unmoved.problem, unmoved.copy);
  }

  private readFile(path: string): Buffer | undefined {
    this.kept.delete(path); // judged again by this read
    try {
      return readFileSync(path);
    } catch (error) {
      if (isStorageFault(error)) {
        // Out of descriptors, no permission, a failing disk: the file may be good, so it stays
        // where it is, and is not replaced by state that never saw it.
        this.kept.set(path, error as Error);
        this.health.failed(path, error, `reading ${path}`);
      } else if (codeOf(error) !== 'ENOENT') {
        this.setAside(path, `unreadable (${messageOf(error)})`, false);
      }
      return undefined;
    }
  }

  /**
   * Moves an unreadable file aside as `<path>.corrupt-<time>` (for a damaged journal: copies
   * it, then rewrites it with the `entries` that parsed), logging its path. If that fails, the
   * file stays as it is and is not overwritten until it has been set aside. Returns whether it was.
   */
  private setAside(path: string, problem: string, copy: boolean, entries?: readonly unknown[]): boolean {
    const logUnmoved = (): void => {
      if (!this.unmoved.has(path)) {
        this.logger.warn(
          { path, problem },
          `${path} is ${problem}; it cannot be set aside now, so it stays in place and is not overwritten`,
        );
      }
      this.unmoved.set(path, { problem, copy });
    };
    if (!this.takeLock(false)) {
      logUnmoved();
      return false;
    }
    const aside = asideName(path, this.clock.wallNow());
    try {
      if (copy) {
        copyFileSync(path, aside, constants.COPYFILE_EXCL);
        // The copy is the only whole record of the damaged file once it is replaced: durable first.
        syncFile(aside);
        syncDirectory(this.dir);
        if (entries) this.journals.replace(path, serializeEntries(entries));
      } else {
        this.journals.forget(path);
        renameSync(path, aside);
      }
    } catch (error) {
      logUnmoved();
      return this.failed(path, error, `setting ${path} aside`);
    }
    this.unmoved.delete(path);
    pruneAside(path);
    const outcome = copy ? `copied aside to ${aside}; the lines that parse are kept` : `moved aside to ${aside}; going on without it`;
    this.logger.warn({ path, moved_to: aside, problem }, `${path} is ${problem}: ${outcome}`);
    this.health.recovered(path);
    return true;
  }

  /** Cuts a torn line off by opening the journal for appends, or leaves that to the first append that can. */
  private cutTornLine(path: string): void {
    if (!this.readyToWrite(path, true)) return;
    try {
      this.journals.of(path).open();
      this.wrote(path);
    } catch (error) {
      this.failed(path, error, `cutting a torn line off ${path}`);
    }
  }

  private wrote(path: string): true {
    this.health.succeeded(path);
    return true;
  }

  private failed(path: string, error: unknown, doing: string): false {
    this.health.failed(path, error, doing);
    return false;
  }
}

function checkFormat(formatVersion: number): void {
  if (!Number.isSafeInteger(formatVersion) || formatVersion < 1) {
    throw new Error(`A state file format version is a positive integer, not ${String(formatVersion)}`);
  }
}
