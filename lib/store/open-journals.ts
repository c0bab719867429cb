import { writeAtomicSync } from './atomic-write';
import { JournalFile } from './journal-file';

/** The journals of a state directory kept open for appends, by path. */
export class OpenJournals {
  private readonly files = new Map<string, JournalFile>();

  /** The journal at `path`, opened at its first append. */
  of(path: string): JournalFile {
    let journal = this.files.get(path);
    if (!journal) this.files.set(path, (journal = new JournalFile(path)));
    return journal;
  }

  /** Replaces the journal at `path` with `bytes` atomically; appends go on in the new file. */
  replace(path: string, bytes: Buffer): void {
    writeAtomicSync(path, bytes);
    this.of(path).reset(bytes.length); // the open file descriptor is the file replaced
  }

  /** Closes the journal at `path` before it is moved: its descriptor would append to the file moved. */
  forget(path: string): void {
    this.files.get(path)?.close();
    this.files.delete(path);
  }

  closeAll(): void {
    for (const journal of this.files.values()) journal.close();
    this.files.clear();
  }
}
