/**
 * A journal file read back. Each line is one append, a JSON array of its entries: a batch is a
 * single line, so a crash in mid-append leaves the whole batch or a torn line, never its first few entries.
 */
export interface ParsedJournal {
  /** The entries of every complete line that parsed, in order. */
  readonly entries: unknown[];
  /** Bytes up to and including the last newline. */
  readonly completeBytes: number;
  /** Bytes after the last newline: a line torn by a crash in mid-append. */
  readonly tornBytes: number;
  /** 1-based numbers of the complete lines that are not a JSON array. */
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
    const batch = parseLine(bytes.toString('utf8', start, end));
    if (batch) entries.push(...batch);
    else badLines.push(line);
    start = end + 1;
  }
  return { entries, completeBytes, tornBytes: bytes.length - completeBytes, badLines };
}

/** What is wrong with a journal whose `badLines` did not parse, for the log. */
export function damageOf(badLines: readonly number[]): string {
  return badLines.length === 1
    ? `damaged: line ${badLines[0]} is not a JSON array`
    : `damaged: lines ${badLines.join(', ')} are not JSON arrays`;
}

function parseLine(text: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Entries as one journal line (none for no entries). JSON never holds a raw newline, so the batch is exactly one line. */
export function serializeEntries(entries: readonly unknown[]): Buffer {
  if (entries.length === 0) return Buffer.alloc(0);
  // Inside an array these would turn into null without a word; checked by type, since
  // stringifying each entry on its own just to see would double a flush's cost.
  for (const entry of entries) {
    if (entry === undefined || typeof entry === 'function' || typeof entry === 'symbol') {
      throw new TypeError(`A journal entry must be a JSON value, not ${typeof entry}`);
    }
  }
  return Buffer.from(`${JSON.stringify(entries)}\n`, 'utf8');
}
