import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { FILE_MODE } from './atomic-write';
import { codeOf } from './fs-errors';
import { exists, holderOf, judge, thisProcess, type Holder } from './lock-holder';

/*
 * One writer per state directory, by a PID lock file rather than proper-lockfile, which the
 * issue suggested. proper-lockfile marks a lock with a directory and decides staleness by its
 * mtime, which a background timer refreshes: the stale limit is at least 2 s (the default 10 s),
 * so a service restarted at once after a kill -9 would be refused, or would have to wait; a
 * holder whose timer is starved on a busy machine loses its lock while alive; and the lock
 * records no PID to name in the refusal. Here the lock file holds the holder's PID, and a holder
 * is gone when `process.kill(pid, 0)` says ESRCH, so its lock is taken over at once.
 *
 * The lock file is created whole, by hard-linking a fully written temporary file to its name
 * (link fails with EEXIST if the name exists, like O_EXCL, and no reader ever sees it half
 * written; on a file system without hard links it is created with O_EXCL, then written).
 * Each lock records a random id beside the PID. A dead holder's lock is renamed aside, and the
 * renamed file is compared, inode and content, with the one judged dead: if a live process
 * took the lock in between, its file is linked (or copied) back and the next attempt refuses.
 * Only three processes starting on the same directory in the same instant could still both
 * win, one of them after giving a lock back. `close()` removes the lock only if it still holds
 * this lock's id.
 *
 * PIDs are local to a host and a PID namespace: a holder elsewhere cannot be asked, and a holder
 * here is gone when its recorded start time or boot id no longer matches (lock-holder.ts). So a
 * holder also renews its lock's mtime every {@link LOCK_RENEW_MS}, and a lock from elsewhere
 * that has not been renewed for {@link LOCK_STALE_MS} is taken over: a container restarted
 * after a crash gets a new PID namespace on the same volume, and must not be locked out forever
 * by the lock its dead predecessor left. Judged by PID where it can be, by lease only where not.
 * A lock naming this very PID but not held in this process was left by an earlier process
 * that had the same PID.
 */

const LOCK_FILE = 'heartbeat.lock';
/** How often a holder renews its lock's mtime, for processes that cannot check its PID. */
export const LOCK_RENEW_MS = 10_000;
/** How long a lock from another host or PID namespace stays valid without a renewal: three missed renewals. */
export const LOCK_STALE_MS = 3 * LOCK_RENEW_MS + 5_000;
const ATTEMPTS = 5;

/** Lock files held by this process, by path: a second holder in the same process is refused too. */
const heldHere = new Set<string>();

/** A lock file as read: its inode and text tell it from any lock written since. */
interface LockFile {
  readonly ino: number;
  readonly text: string;
  /** Wall ms of its last renewal. */
  readonly mtimeMs: number;
}

/**
 * Thrown by `new HeartbeatManager({ store: fileStore({ dir }) })` when a live process holds
 * the directory: one writer per state directory. The message names the directory and the PID.
 */
export class DirectoryInUseError extends Error {
  /** Always `DirectoryInUseError`. */
  override readonly name = 'DirectoryInUseError';
  /** @internal */
  constructor(
    /** The directory's absolute real path. */
    readonly dir: string,
    /** The PID of the process that holds it. */
    readonly pid: number,
    /** The holder, when it runs on another host or in another PID namespace. */
    elsewhere?: Holder,
  ) {
    super(
      elsewhere
        ? `${dir} is in use by process ${pid} of another host or PID namespace ` +
            `(${JSON.stringify({ hostname: elsewhere.hostname, pid_ns: elsewhere.pid_ns })}), which this process cannot check; ` +
            `if it is gone, its lock is taken over ${LOCK_STALE_MS / 1000} s after its last renewal ` +
            `(start again then, or delete ${join(dir, LOCK_FILE)} now)`
        : pid === process.pid
          ? `${dir} is in use by this process (${pid}): close the manager or store that holds it first, or give this one another directory`
          : `${dir} is in use by process ${pid}; stop it, or give this process another directory`,
    );
  }
}

export interface DirectoryLock {
  /** The PID whose lock was taken over because that process is gone, if any. */
  readonly tookOverFrom: number | undefined;
  /** Whether that lock was taken over because its lease ran out (a holder elsewhere), not because its PID is gone. */
  readonly leaseExpired: boolean;
  /** Removes the lock file if it is still this lock's; calling it again does nothing. */
  release(): void;
}

/**
 * Takes the lock of `dir` (an existing directory, by its real path), taking over the lock of a
 * holder that is no longer running. Throws {@link DirectoryInUseError} if a live process holds
 * it, and the file system's error if the lock file cannot be written.
 */
export function acquireLock(dir: string): DirectoryLock {
  const path = join(dir, LOCK_FILE);
  if (heldHere.has(path)) throw new DirectoryInUseError(dir, process.pid);
  // A live holder is refused before anything is written: on a full disk the scratch file below
  // fails, and that storage fault must not let this process open beside the holder, degraded.
  const held = readLockFile(path);
  const holder = held && holderOf(held.text);
  if (held && holder) {
    const verdict = judge(holder);
    const expired = verdict === 'elsewhere' && Date.now() - held.mtimeMs > LOCK_STALE_MS;
    if (verdict !== 'gone' && !expired) throw new DirectoryInUseError(dir, holder.pid, verdict === 'elsewhere' ? holder : undefined);
  }
  const text = `${JSON.stringify({ ...thisProcess(), id: randomBytes(8).toString('hex'), started_at: new Date().toISOString() })}\n`;
  const mine = `${path}.new-${process.pid}-${randomBytes(6).toString('hex')}`;
  writeFileSync(mine, text, { flag: 'wx', mode: FILE_MODE });
  let tookOverFrom: number | undefined;
  let leaseExpired = false;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (tryCreate(mine, path, text)) {
        removeScratchFiles(dir);
        return heldLock(path, text, tookOverFrom, leaseExpired);
      }
      const seen = readLockFile(path);
      if (!seen) continue; // released in between: try again
      const holder = holderOf(seen.text);
      const verdict = holder ? judge(holder) : 'gone';
      const expired = verdict === 'elsewhere' && Date.now() - seen.mtimeMs > LOCK_STALE_MS;
      if (holder && verdict !== 'gone' && !expired)
        throw new DirectoryInUseError(dir, holder.pid, verdict === 'elsewhere' ? holder : undefined);
      if (removeIfSame(path, seen)) {
        tookOverFrom = holder?.pid;
        leaseExpired = expired;
      }
    }
    throw new Error(`${dir}: could not take ${path} in ${ATTEMPTS} attempts; other processes keep taking and releasing it`);
  } finally {
    unlinkQuietly(mine);
  }
}

function heldLock(path: string, text: string, tookOverFrom: number | undefined, leaseExpired: boolean): DirectoryLock {
  heldHere.add(path);
  const renewal = setInterval(() => {
    renew(path, text);
  }, LOCK_RENEW_MS);
  renewal.unref(); // a lock never keeps a process alive
  return {
    tookOverFrom,
    leaseExpired,
    release() {
      clearInterval(renewal);
      heldHere.delete(path);
      try {
        // Never remove a lock that is no longer ours.
        if (readLockFile(path)?.text === text) unlinkSync(path);
      } catch {
        // A lock left behind names this process, which is gone by the time anyone reads it.
      }
    },
  };
}

/** Renews the lock's mtime, if it is still this one: a failure (a read-only disk) is retried at the next renewal. */
function renew(path: string, text: string): void {
  try {
    if (readLockFile(path)?.text !== text) return;
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // The lease runs out only for processes elsewhere, after three renewals missed in a row.
  }
}

/** Creates the lock file `to` from the written file `from`; false if it exists. */
function tryCreate(from: string, to: string, text: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    const code = codeOf(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP') throw error;
  }
  // No hard links on this file system (some FUSE and SMB mounts): created exclusively instead,
  // where a reader in the instant between create and write sees an empty file.
  try {
    writeFileSync(to, text, { flag: 'wx', mode: FILE_MODE });
    return true;
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw error;
  }
}

/** The lock file at `path`, or undefined if there is none. */
function readLockFile(path: string): LockFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(4096);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const stat = fstatSync(fd);
    return { ino: stat.ino, text: buffer.toString('utf8', 0, length), mtimeMs: stat.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** Removes the lock file at `path` if it is still the one `seen`; says whether it did. */
function removeIfSame(path: string, seen: LockFile): boolean {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false; // someone else removed it first
    throw error;
  }
  const moved = readLockFile(aside);
  const same = moved?.ino === seen.ino && moved.text === seen.text;
  if (!same) {
    // A live process took the lock after it was read: give it back.
    try {
      tryCreate(aside, path, moved?.text ?? '');
    } catch {
      // Yet another process holds it now; both will see their lock, as explained at the top.
    }
  }
  unlinkQuietly(aside);
  return same;
}

const SCRATCH = /^heartbeat\.lock\.(?:new|stale)-(\d+)-[0-9a-f]{12}$/;

/** Removes the scratch files (`.new-`, `.stale-`) that processes killed while taking the lock left behind. */
function removeScratchFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // left for the next start
  }
  for (const name of names) {
    const pid = SCRATCH.exec(name)?.[1];
    if (pid !== undefined && !exists(Number(pid))) unlinkQuietly(join(dir, name));
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or a read-only directory: nothing else to do
  }
}
