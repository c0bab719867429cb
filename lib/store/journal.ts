/** A journal file read back: one JSON value per line. */
export interface ParsedJournal {
  /** Every complete line that parsed, in order. */
  readonly entries: unknown[];
  /** Bytes up to and including the last newline. */
  readonly completeBytes: number;
  /** Bytes after the last newline: a line torn by a crash in mid-append. */
  readonly tornBytes: number;
  /** 1-based numbers of the complete lines that did not parse. */
  readonly badLines: number[];
}

const NEWLINE = 0x0a;

/**
 * Splits a journal into entries. An append writes whole lines ending in a newline, so bytes
 * after the last newline were never acknowledged (the append had not returned): they are a
 * torn line, not an entry, whatever they hold.
 */
export function parseJournal(bytes: Buffer): ParsedJournal {
  const completeBytes = bytes.lastIndexOf(NEWLINE) + 1;
  const entries: unknown[] = [];
  const badLines: number[] = [];
  let start = 0;
  let line = 0;
  while (start < completeBytes) {
    const end = bytes.indexOf(NEWLINE, start);
    line++;
    try {
      entries.push(JSON.parse(bytes.toString('utf8', start, end)));
    } catch {
      badLines.push(line);
    }
    start = end + 1;
  }
  return { entries, completeBytes, tornBytes: bytes.length - completeBytes, badLines };
}

/** Entries as journal lines. JSON never holds a raw newline, so each entry is exactly one line. */
export function serializeEntries(entries: readonly unknown[]): Buffer {
  let text = '';
  for (const entry of entries) {
    const json = JSON.stringify(entry) as string | undefined;
    if (json === undefined) throw new TypeError(`A journal entry must be a JSON value, not ${typeof entry}`);
    text += `${json}\n`;
  }
  return Buffer.from(text, 'utf8');
}
