import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/*
 * Atomic replacement: a temporary file beside the target, written whole, fsynced, renamed over
 * the target, then the directory fsynced, so a crash or a power loss leaves the old file or the
 * new one, never a mix.
 *
 * Not write-file-atomic, which the issue suggested: it writes the data with a single write(2)
 * and ignores the count written. A write into a nearly full disk is short without an error, so
 * it fsyncs and renames a truncated file over the good one (on a 64 KB tmpfs with one page free,
 * a 20 KB snapshot became 4,096 bytes, with no error; v5 to v8 all write this way).
 * Node's `writeFile` on a file descriptor loops until every byte is written, so the write that
 * does not fit throws ENOSPC and the previous file stays.
 */

/** State files hold paths and error messages: readable by their owner only. */
export const FILE_MODE = 0o600;

const TEMP_SUFFIX = /\.tmp-\d+-[0-9a-f]{8}$/;

/** Whether a file name is one of these temporary files (left behind when a process died mid-write). */
export function isTemporary(name: string): boolean {
  return TEMP_SUFFIX.test(name);
}

function temporaryFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Replaces `path` with `bytes` atomically; rejects with the file system's error, leaving `path`
 * as it was. `proceed` is asked just before the rename: false drops this write (a newer one has
 * landed) and resolves to false.
 */
export async function writeAtomic(path: string, bytes: Buffer, proceed: () => boolean): Promise<boolean> {
  const temporary = temporaryFor(path);
  try {
    const file = await open(temporary, 'wx', FILE_MODE);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    if (!proceed()) {
      await unlink(temporary);
      return false;
    }
    // In the same tick as the check: an asynchronous rename could land after a newer synchronous write.
    renameSync(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return true;
}

/** {@link writeAtomic}, synchronously and unconditionally. */
export function writeAtomicSync(path: string, bytes: Buffer): void {
  const temporary = temporaryFor(path);
  try {
    const fd = openSync(temporary, 'wx', FILE_MODE);
    try {
      writeFileSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or the directory turned read-only: a later open removes it
    }
    throw error;
  }
  syncDirectory(dirname(path));
}

/** Makes the content of the file at `path` durable. */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the names in `dir` durable: a file created or renamed there survives a power loss. */
export function syncDirectory(dir: string): void {
  syncFile(dir);
}
