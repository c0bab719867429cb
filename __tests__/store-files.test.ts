import fs, { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NewerFormatError, StateDirectory } from '../lib/store';
import { codeOf, messageOf } from '../lib/store/fs-errors';
import { WriteHealth } from '../lib/store/write-health';
import { failNext } from './helpers/fs-faults';
import { captureLogger } from './helpers/logger';
import { STAMP, WALL, useStateDirectory, wallClock as clock } from './helpers/state-dir';

const state = useStateDirectory();
const { open, file, read, listing } = state;
let dir: string;
beforeEach(() => {
  dir = state.dir;
});

describe('snapshots', () => {
  it('read as undefined when missing, and back as written: format, time and data', async () => {
    const { store } = open();
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    await expect(store.writeSnapshot('state', 1, { pulses: 3 })).resolves.toBe(true);
    expect(JSON.parse(read('state.json'))).toEqual({ format: 1, written_at: '2026-11-30T07:40:00.123Z', data: { pulses: 3 } });
    expect(store.readSnapshot('state', 2)).toEqual({ format: 1, writtenAt: '2026-11-30T07:40:00.123Z', data: { pulses: 3 } });
    expect(store.writeSnapshotSync('state', 2, null)).toBe(true);
    expect(store.readSnapshot('state', 2)).toEqual({ format: 2, writtenAt: '2026-11-30T07:40:00.123Z', data: null });
    expect(store.status()).toEqual({ state: 'ok', lastError: null, errors: 0, lastWriteAt: WALL });
    expect(listing()).toEqual(['heartbeat.lock', 'state.json']);
  });

  it('are created readable by their owner only, in a directory created the same way', async () => {
    const sub = join(dir, 'state');
    const store = StateDirectory.open({ dir: sub, logger: captureLogger().logger, clock });
    try {
      await expect(store.writeSnapshot('state', 1, {})).resolves.toBe(true);
      expect(store.appendJournal('events', [1])).toBe(true);
      const mode = (name: string): string => (statSync(join(sub, name)).mode & 0o777).toString(8);
      expect([mode('.'), mode('state.json'), mode('events.log'), mode('heartbeat.lock')]).toEqual(['700', '600', '600', '600']);
    } finally {
      await store.close();
    }
  });

  it.each([
    ['a zero-length file', '', 'empty (0 bytes)'],
    ['a garbage file', '\u0000\u0000{"format":1,"writ', 'not valid JSON (19 bytes)'],
    ['JSON without a format', '{"pulses":3}', 'not a state snapshot (no format version)'],
    ['JSON with the format as text', '{"format":"1","written_at":"x","data":1}', 'not a state snapshot (no format version)'],
    ['JSON without data', '{"format":1,"written_at":"2026-11-30T07:40:00.123Z"}', 'not a state snapshot (no written_at or data)'],
    ['a JSON array', '[1]', 'not a state snapshot (no format version)'],
    ['JSON null', 'null', 'not a state snapshot (no format version)'],
  ])('%s is moved aside as .corrupt-<time>, logged once with its path, and reads as undefined', async (_, content, problem) => {
    writeFileSync(file('state.json'), content);
    const { store, lines } = open();
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    const aside = file(`state.json.corrupt-${STAMP}`);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        path: file('state.json'),
        moved_to: aside,
        msg: `${file('state.json')} is ${problem}: moved aside to ${aside}; going on without it`,
      }),
    ]);
    expect(readFileSync(aside, 'utf8')).toBe(content);
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    await expect(store.writeSnapshot('state', 1, { fresh: true })).resolves.toBe(true);
    expect(store.readSnapshot('state', 1)?.data).toEqual({ fresh: true });
    expect(lines).toHaveLength(1);
    expect(store.status().state).toBe('ok');
  });

  it('land asynchronous writes of one name in the order they were made, and drop one that a synchronous write overtook', async () => {
    const { store } = open();
    const writes = [store.writeSnapshot('state', 1, { n: 1 }), store.writeSnapshot('state', 1, { n: 2 })];
    await expect(Promise.all(writes)).resolves.toEqual([true, true]);
    expect(store.readSnapshot('state', 1)?.data).toEqual({ n: 2 });
    const overtaken = store.writeSnapshot('state', 1, { n: 3 });
    expect(store.writeSnapshotSync('state', 1, { n: 4 })).toBe(true);
    await expect(overtaken).resolves.toBe(true);
    expect(store.readSnapshot('state', 1)?.data).toEqual({ n: 4 });
    expect(listing()).toEqual(['heartbeat.lock', 'state.json']);
  });

  it('keeps a synchronous write made while an older asynchronous one is renaming its file', async () => {
    const { store } = open();
    const realRename = fs.promises.rename;
    let renaming: () => void = () => undefined;
    let release: () => void = () => undefined;
    const renameStarted = new Promise<void>((resolve) => (renaming = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    jest.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      renaming();
      await gate;
      return realRename(from, to);
    });
    const older = store.writeSnapshot('state', 1, { n: 1 });
    await Promise.race([renameStarted, older]);
    expect(store.writeSnapshotSync('state', 1, { n: 2 })).toBe(true);
    release();
    await older;
    expect(store.readSnapshot('state', 1)?.data).toEqual({ n: 2 });
  });

  it('removes, when it opens, the temporary files of writes that a crash cut short', () => {
    writeFileSync(file('state.json.tmp-4242-0123abcd'), '{"format":1');
    writeFileSync(file('events.log.tmp-4242-89abcdef'), '');
    writeFileSync(file('notes.txt'), 'not ours');
    open();
    expect(listing()).toEqual(['heartbeat.lock', 'notes.txt']);
  });

  it('gives two corrupt files set aside in the same millisecond names of their own', () => {
    const { store } = open();
    for (const content of ['first', 'second', 'third']) {
      writeFileSync(file('state.json'), content);
      expect(store.readSnapshot('state', 1)).toBeUndefined();
    }
    expect(listing()).toEqual([
      'heartbeat.lock',
      `state.json.corrupt-${STAMP}`,
      `state.json.corrupt-${STAMP}-2`,
      `state.json.corrupt-${STAMP}-3`,
    ]);
    expect(read(`state.json.corrupt-${STAMP}-3`)).toBe('third');
  });

  it('keeps the newest 5 files set aside per name, and removes older ones', () => {
    let wall = WALL;
    const { logger } = captureLogger();
    const { store } = open({ logger, clock: { now: () => 0, wallNow: () => wall } });
    writeFileSync(file('other.json.corrupt-2020-01-01T00-00-00.000Z'), 'not this name');
    for (const [at, content] of [
      [0, 'a'],
      [0, 'b'],
      [1, 'c'],
      [0, 'd'],
      [2000, 'e'],
      [2000, 'f'],
      [3000, 'g'],
    ] as const) {
      wall = WALL + at;
      writeFileSync(file('state.json'), content);
      expect(store.readSnapshot('state', 1)).toBeUndefined();
    }
    const kept = listing().filter((name) => name.startsWith('state.json.corrupt-'));
    expect(kept.map((name) => read(name)).sort()).toEqual(['c', 'd', 'e', 'f', 'g']);
    expect(listing()).toContain('other.json.corrupt-2020-01-01T00-00-00.000Z');
  });

  it('refuses a snapshot of a newer format with a clear message, and leaves the file in place', () => {
    const content = '{"format":3,"written_at":"2027-01-01T00:00:00.000Z","layout":"other"}';
    writeFileSync(file('state.json'), content);
    const { store, lines } = open();
    const message =
      `${file('state.json')} was written by a newer express-heartbeat (format 3; this one reads up to 2): ` +
      "upgrade, or point the store's directory elsewhere";
    expect(() => store.readSnapshot('state', 2)).toThrow(new NewerFormatError(file('state.json'), 3, 2));
    expect(() => store.readSnapshot('state', 2)).toThrow(message);
    expect(read('state.json')).toBe(content);
    expect(listing()).toEqual(['heartbeat.lock', 'state.json']);
    expect(lines).toEqual([]);
    expect(store.status()).toMatchObject({ state: 'ok', errors: 0 });
  });

  it('never overwrites a snapshot of a newer format it refused: writes fail, degraded, naming the file', async () => {
    const content = '{"format":3,"written_at":"2027-01-01T00:00:00.000Z","data":1}';
    writeFileSync(file('state.json'), content);
    const { store } = open();
    expect(() => store.readSnapshot('state', 2)).toThrow(NewerFormatError);
    await expect(store.writeSnapshot('state', 2, { older: true })).resolves.toBe(false);
    expect(store.writeSnapshotSync('state', 2, { older: true })).toBe(false);
    expect(read('state.json')).toBe(content);
    expect(store.status()).toMatchObject({
      state: 'degraded',
      lastError: new NewerFormatError(file('state.json'), 3, 2).message,
      errors: 2,
    });
    rmSync(file('state.json')); // the operator moved it away
    expect(store.readSnapshot('state', 2)).toBeUndefined();
    expect(store.writeSnapshotSync('state', 2, { older: true })).toBe(true);
    expect(store.status().state).toBe('ok');
  });

  it('throws for a caller bug: a bad name, a bad format version, data that is not JSON', () => {
    const { store } = open();
    for (const name of ['', '../escape', 'a/b', 'state.json', '.hidden', 'x'.repeat(101)]) {
      expect(() => store.readSnapshot(name, 1)).toThrow(`State file name ${JSON.stringify(name)}: use 1 to 100 letters, digits, _ and -`);
    }
    for (const version of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => store.writeSnapshotSync('state', version, {})).toThrow(
        `A state file format version is a positive integer, not ${String(version)}`,
      );
    }
    expect(() => store.writeSnapshot('state', 1, { big: 1n })).toThrow('Do not know how to serialize a BigInt');
    expect(listing()).toEqual(['heartbeat.lock']);
  });
});

describe('journals', () => {
  it('append JSON lines, synced to disk before the append returns, and read them back in order', () => {
    const { store } = open();
    const syncs = jest.spyOn(fs, 'fdatasyncSync');
    expect(store.readJournal('events')).toEqual([]);
    expect(store.appendJournal('events', [{ n: 1 }, { n: 2 }])).toBe(true);
    expect(syncs).toHaveBeenCalledTimes(1);
    expect(store.appendJournal('events', ['three'])).toBe(true);
    expect(store.appendJournal('events', [])).toBe(true);
    expect(syncs).toHaveBeenCalledTimes(2);
    expect(read('events.log')).toBe('[{"n":1},{"n":2}]\n["three"]\n');
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 2 }, 'three']);
    expect(store.status()).toEqual({ state: 'ok', lastError: null, errors: 0, lastWriteAt: WALL });
    expect(() => store.appendJournal('events', [undefined])).toThrow('A journal entry must be a JSON value, not undefined');
  });

  it('drop a torn last line, cut it off the file, and start the next append on a clean line', () => {
    writeFileSync(file('events.log'), '[{"n":1}]\n[{"n":2}]\n{"n":');
    const { store, lines } = open();
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n":2}]\n');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        path: file('events.log'),
        msg: `${file('events.log')}: dropped a torn last line (5 bytes) left by a crash in mid-append`,
      }),
    ]);
    expect(store.appendJournal('events', [{ n: 3 }])).toBe(true);
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(lines).toHaveLength(1);
  });

  it('cut a torn last line before appending even when nobody read the journal first', () => {
    writeFileSync(file('events.log'), '[{"n":1}]\n[{"n":2');
    const { store } = open();
    expect(store.appendJournal('events', [{ n: 3 }])).toBe(true);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n":3}]\n');
  });

  it('keep every line that parses when one in the middle is damaged, copy the file aside, and log it once with its path', () => {
    const content = '[{"n":1}]\n[{"n":\u0000\u0000\n[{"n":3}]\n{"n":4}\n[{"n":5}]\n[{"n":';
    writeFileSync(file('events.log'), content);
    const { store, lines } = open();
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 3 }, { n: 5 }]);
    const aside = file(`events.log.corrupt-${STAMP}`);
    expect(readFileSync(aside, 'utf8')).toBe(content);
    expect(read('events.log')).toBe('[{"n":1},{"n":3},{"n":5}]\n');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        path: file('events.log'),
        moved_to: aside,
        msg: `${file('events.log')} is damaged: lines 2, 4 are not JSON arrays: copied aside to ${aside}; the lines that parse are kept`,
      }),
    ]);
    expect(store.appendJournal('events', [{ n: 6 }])).toBe(true);
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 3 }, { n: 5 }, { n: 6 }]);
    expect(lines).toHaveLength(1);
  });

  it('make the copy of a damaged journal durable, file and name, before the journal is replaced', () => {
    writeFileSync(file('events.log'), '[1]\nbad\n');
    const { store } = open();
    const calls: string[] = [];
    const opened = new Map<number, string>();
    const { openSync, fsyncSync, renameSync } = fs;
    jest.spyOn(fs, 'openSync').mockImplementation((path, flags, mode) => {
      const fd = openSync(path, flags, mode);
      opened.set(fd, String(path));
      return fd;
    });
    jest.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
      calls.push(`fsync ${opened.get(fd)}`);
      fsyncSync(fd);
    });
    jest.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      calls.push(`rename to ${String(to)}`);
      renameSync(from, to);
    });
    expect(store.readJournal('events')).toEqual([1]);
    const replaced = calls.indexOf(`rename to ${file('events.log')}`);
    expect(calls.slice(0, replaced)).toEqual(expect.arrayContaining([`fsync ${file(`events.log.corrupt-${STAMP}`)}`, `fsync ${dir}`]));
    expect(calls.indexOf(`fsync ${dir}`)).toBeLessThan(replaced);
  });

  it('are replaced whole by rewriteJournal (compaction), and appends go on in the new file', () => {
    const { store } = open();
    expect(store.appendJournal('events', [1, 2, 3])).toBe(true);
    expect(store.rewriteJournal('events', [3])).toBe(true);
    expect(store.appendJournal('events', [4])).toBe(true);
    expect(read('events.log')).toBe('[3]\n[4]\n');
    expect(store.rewriteJournal('events', [])).toBe(true);
    expect(store.readJournal('events')).toEqual([]);
    expect(listing()).toEqual(['events.log', 'heartbeat.lock']);
  });
});

describe('storage faults no test can cause for real (injected)', () => {
  it('a state past the longest string V8 makes (about 512 MB): the snapshot write fails as a write does, and the old one stays', async () => {
    const { store, messages } = open();
    expect(store.writeSnapshotSync('state', 1, { services: 1 })).toBe(true);
    const tooLong = { toJSON: () => 'x'.repeat(2 ** 29 - 24 + 1) }; // one character past V8's limit
    expect(store.writeSnapshotSync('state', 1, tooLong)).toBe(false);
    await expect(store.writeSnapshot('state', 1, tooLong)).resolves.toBe(false);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'Invalid string length', errors: 2 });
    expect(messages()).toEqual([
      `state directory ${state.dir}: serializing ${state.file('state.json')} (the state is too large for one JSON string) failed (Invalid string length); monitoring goes on in memory, and each later write tries again`,
    ]);
    expect(store.readSnapshot('state', 1)?.data).toEqual({ services: 1 });
  });

  it('an EIO on the sync of an append: degraded, the unsynced line cut off, ok at the next append', () => {
    const { store } = open();
    expect(store.appendJournal('events', [{ n: 1 }])).toBe(true);
    failNext('fdatasyncSync', 'EIO');
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(false);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'EIO: injected, fdatasyncSync', errors: 1 });
    expect(read('events.log')).toBe('[{"n":1}]\n');
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', lastError: null, errors: 1 });
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a batch torn by a crash in mid-append is lost whole, never its first entries alone', async () => {
    const first = open();
    expect(first.store.appendJournal('events', [{ n: 1 }])).toBe(true);
    const realWrite = fs.writeSync;
    jest.spyOn(fs as unknown as { writeSync: (fd: number, bytes: Buffer) => number }, 'writeSync').mockImplementationOnce((fd, bytes) => {
      realWrite(fd, bytes, 0, bytes.length / 2); // the first half reaches the disk, then the power goes
      throw Object.assign(new Error('EIO: injected, write'), { code: 'EIO' });
    });
    failNext('ftruncateSync', 'EIO');
    expect(first.store.appendJournal('events', [{ n: 2 }, { n: 3 }])).toBe(false);
    await first.store.close();
    expect(open().store.readJournal('events')).toEqual([{ n: 1 }]);
  });

  it('a half-written append whose cut fails too is cut by the next append, which reopens the journal', () => {
    const { store } = open();
    expect(store.appendJournal('events', [{ n: 1 }])).toBe(true);
    const realWrite = fs.writeSync;
    jest.spyOn(fs as unknown as { writeSync: (fd: number, bytes: Buffer) => number }, 'writeSync').mockImplementationOnce((fd, bytes) => {
      realWrite(fd, bytes, 0, 4);
      throw Object.assign(new Error('EIO: injected, write'), { code: 'EIO' });
    });
    failNext('ftruncateSync', 'EIO');
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(false);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n');
    expect(store.appendJournal('events', [{ n: 3 }])).toBe(true);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n":3}]\n');
  });

  it('a torn line that cannot be cut when read is cut by the first append that can', () => {
    writeFileSync(file('events.log'), '[{"n":1}]\n{"n');
    const { store } = open();
    failNext('ftruncateSync', 'EIO');
    expect(store.readJournal('events')).toEqual([{ n: 1 }]);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'EIO: injected, ftruncateSync' });
    expect(read('events.log')).toBe('[{"n":1}]\n{"n');
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(true);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n":2}]\n');
    expect(store.status().state).toBe('ok');
  });

  it.each([
    ['EIO', 'snapshot', 'state.json'],
    ['EMFILE', 'journal', 'events.log'],
    ['EACCES', 'snapshot', 'state.json'],
  ])('a %s reading a %s leaves the file in place, not replaced, degraded, until a read succeeds', (code, kind, name) => {
    const readIt = (store: StateDirectory): unknown => (kind === 'journal' ? store.readJournal('events') : store.readSnapshot('state', 1));
    const writeIt = (store: StateDirectory): boolean =>
      kind === 'journal' ? store.rewriteJournal('events', []) : store.writeSnapshotSync('state', 1, {});
    const content = kind === 'journal' ? '[1]\n' : '{"format":1,"written_at":"x","data":1}\n';
    writeFileSync(file(name), content);
    const { store, messages } = open();
    failNext('readFileSync', code, { path: file(name) });
    expect(readIt(store) ?? []).toEqual([]);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: `${code}: injected, readFileSync`, errors: 1 });
    expect(messages()).toEqual([
      `state directory ${dir}: reading ${file(name)} failed (${code}: injected, readFileSync); monitoring goes on in memory, and each later write tries again`,
    ]);
    expect(writeIt(store)).toBe(false);
    expect(listing()).toEqual([name, 'heartbeat.lock'].sort());
    expect(read(name)).toBe(content);
    expect(readIt(store) ?? []).not.toEqual([]);
    expect(writeIt(store)).toBe(true);
    expect(store.status().state).toBe('ok');
  });

  it('appends to a journal it could not read, keeping the lines there', () => {
    writeFileSync(file('events.log'), '[1]\n');
    const { store } = open();
    failNext('readFileSync', 'EIO', { path: file('events.log') });
    expect(store.readJournal('events')).toEqual([]);
    expect(store.appendJournal('events', [2])).toBe(true);
    expect(read('events.log')).toBe('[1]\n[2]\n');
  });

  it('appends to a fresh journal once an unreadable one was moved aside, not to the file set aside', () => {
    const { store } = open();
    expect(store.appendJournal('events', [1])).toBe(true);
    failNext('readFileSync', 'EBADMSG', { path: file('events.log') });
    expect(store.readJournal('events')).toEqual([]);
    expect(store.appendJournal('events', [2])).toBe(true);
    expect(read('events.log')).toBe('[2]\n');
    expect(read(`events.log.corrupt-${STAMP}`)).toBe('[1]\n');
  });

  it('a logger that throws turns no failed write into a throw or a rejected promise', async () => {
    const broken = (): never => {
      throw new Error('log destination gone');
    };
    const logger = { ...captureLogger().logger, info: broken, warn: broken, error: broken } as unknown as Logger;
    writeFileSync(file('state.json'), 'garbage');
    const { store } = open({ logger, clock });
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    failNext('renameSync', 'ENOSPC');
    await expect(store.writeSnapshot('state', 1, {})).resolves.toBe(false);
    failNext('fdatasyncSync', 'EIO');
    expect(store.appendJournal('events', [1])).toBe(false);
    await expect(store.writeSnapshot('state', 1, {})).resolves.toBe(true);
    expect(store.appendJournal('events', [1])).toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', errors: 2 });
  });

  it('leaves the temporary files of a crashed write for the next start when the directory cannot be listed', () => {
    writeFileSync(file('state.json.tmp-4242-0123abcd'), '{"format":1');
    failNext('readdirSync', 'EIO', { count: 2 }); // the lock's scratch files, then these
    expect(open().store.status().state).toBe('ok');
    expect(listing()).toEqual(['heartbeat.lock', 'state.json.tmp-4242-0123abcd']);
  });

  it('describes failures that are not Node errors, as UNKNOWN with their text', () => {
    const { logger, lines } = captureLogger();
    const health = new WriteHealth(dir, logger, clock);
    health.failed('state.json', 'disk on fire', 'writing state.json');
    expect(health.status()).toEqual({ state: 'degraded', lastError: 'disk on fire', errors: 1, lastWriteAt: null });
    expect(lines).toEqual([expect.objectContaining({ code: 'UNKNOWN', err: 'disk on fire' })]);
    expect(messageOf(null)).toBe('null');
    expect(codeOf({ code: 5 })).toBeUndefined();
  });

  it('works where the kernel has no boot id (outside Linux): the lock records none', async () => {
    failNext('readFileSync', 'ENOENT', { path: '/proc/sys/kernel/random/boot_id' });
    await jest.isolateModulesAsync(async () => {
      const fresh = await import('../lib/store');
      const store = fresh.StateDirectory.open({ dir, logger: captureLogger().logger });
      const lock = JSON.parse(read('heartbeat.lock'));
      expect(lock).toMatchObject({ pid: process.pid });
      expect(lock).not.toHaveProperty('boot_id');
      await store.close();
    });
  });

  it('logs each error code once while degraded, counts every failure, and logs again after a recovery', () => {
    const { store, lines } = open();
    const errorCodes = (): unknown[] => lines.filter((line) => line.level === 50).map((line) => line.code);
    failNext('fdatasyncSync', 'ENOSPC', { count: 3 });
    for (let i = 0; i < 3; i++) expect(store.appendJournal('events', [i])).toBe(false);
    failNext('fdatasyncSync', 'EROFS', { count: 2 });
    for (let i = 0; i < 2; i++) expect(store.appendJournal('events', [i])).toBe(false);
    expect(errorCodes()).toEqual(['ENOSPC', 'EROFS']);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'EROFS: injected, fdatasyncSync', errors: 5 });
    expect(store.appendJournal('events', ['ok'])).toBe(true);
    failNext('fdatasyncSync', 'ENOSPC');
    expect(store.appendJournal('events', ['again'])).toBe(false);
    expect(errorCodes()).toEqual(['ENOSPC', 'EROFS', 'ENOSPC']);
    expect(store.status()).toMatchObject({ state: 'degraded', errors: 6 });
  });

  it('stays degraded while any file failed last, and reports the latest failure of those still failing', async () => {
    const { store } = open();
    failNext('fdatasyncSync', 'EIO');
    expect(store.appendJournal('events', [1])).toBe(false);
    failNext('renameSync', 'ENOSPC');
    expect(store.writeSnapshotSync('state', 1, {})).toBe(false);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'ENOSPC: injected, renameSync', errors: 2 });
    await expect(store.writeSnapshot('state', 1, {})).resolves.toBe(true);
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'EIO: injected, fdatasyncSync', errors: 2 });
    expect(store.appendJournal('events', [1])).toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', lastError: null });
    expect(statSync(file('state.json')).size).toBeGreaterThan(0);
  });
});
