import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { FILE_MODE, syncDirectory } from './atomic-write';
import { parseJournal } from './journal';

const NEWLINE = 0x0a;

/**
 * A journal kept open for appends. It knows how many bytes of complete lines the file holds,
 * so a failed append is cut back to them, and a file that ends in a partial line is cut when
 * it is opened: every append starts on a line of its own.
 */
export class JournalFile {
  private fd: number | undefined;
  /** Bytes of complete lines, once known. */
  private size: number | undefined;

  constructor(private readonly path: string) {}

  /** Bytes of complete lines, or undefined before the file was read or opened. */
  get completeBytes(): number | undefined {
    return this.size;
  }

  /** The file now holds `completeBytes` of complete lines (it was just read, or rewritten): it is reopened for the next append. */
  reset(completeBytes: number): void {
    this.close();
    this.size = completeBytes;
  }

  /** Opens the file for appends unless it is open, first cutting off anything past its last complete line. */
  open(): number {
    if (this.fd !== undefined) return this.fd;
    const fd = openSync(this.path, 'a+', FILE_MODE);
    try {
      const actual = fstatSync(fd).size;
      let complete = actual;
      if (this.size !== undefined) complete = Math.min(this.size, actual);
      else if (actual > 0 && lastByte(fd, actual) !== NEWLINE) complete = parseJournal(readFileSync(this.path)).completeBytes;
      if (actual > complete) ftruncateSync(fd, complete);
      this.size = complete;
      if (actual === 0) syncDirectory(dirname(this.path)); // a new file's name must be durable too
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
    this.fd = fd;
    return fd;
  }

  /** Appends whole lines and syncs them to disk; on failure, cuts the file back to its complete lines, then throws. */
  append(bytes: Buffer): void {
    const fd = this.open();
    try {
      // A write can be short (a disk filling up mid-line): the next one then throws ENOSPC.
      for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fdatasyncSync(fd);
    } catch (error) {
      this.cutBack(fd);
      throw error;
    }
    this.size = (this.size as number) + bytes.length; // known once open
  }

  close(): void {
    closeQuietly(this.fd);
    this.fd = undefined;
  }

  /** Cuts a failed append off, or, if even that fails, closes the file so the next open cuts it. */
  private cutBack(fd: number): void {
    try {
      ftruncateSync(fd, this.size);
    } catch {
      this.close();
    }
  }
}

function lastByte(fd: number, size: number): number | undefined {
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, size - 1);
  return byte[0];
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // closing is all that is left to do with it
  }
}
