import fs, { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { failNext } from './helpers/fs-faults';
import { STAMP, useStateDirectory } from './helpers/state-dir';
import { mountTmpfs, remount, unmount } from './helpers/tmpfs';

// The state directory on a real tmpfs that fills up or turns read-only. Mounting needs root or
// CAP_SYS_ADMIN (as in CI); without it every test fails with the reason (helpers/tmpfs.ts).

let mounted = false;
const state = useStateDirectory((dir) => {
  if (mounted) unmount(dir);
  mounted = false;
});
const { open, file, read, listing } = state;
let dir: string;
beforeEach(() => {
  dir = state.dir;
});

describe('storage faults on a real tmpfs', () => {
  /** Fills the tmpfs on `dir` with a file, then frees `spare` bytes of it. */
  function fillDisk(spare = 0): void {
    const filler = file('filler');
    const chunk = Buffer.alloc(4096, 'x');
    const fd = fs.openSync(filler, 'w');
    let size = 0;
    try {
      for (;;) size += fs.writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    if (spare > 0) truncateSync(filler, Math.max(0, size - spare));
  }

  beforeEach(() => {
    mountTmpfs(dir, 64);
    mounted = true;
  });

  it('a full disk: writes report false (async ones resolve, never reject), the store is degraded, logs once, counts each, and is ok once space is freed', async () => {
    const { store, lines, messages } = open();
    expect(store.writeSnapshotSync('state', 1, { version: 'before' })).toBe(true);
    expect(store.appendJournal('events', [{ n: 1 }])).toBe(true);
    fillDisk(6000);
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const big = 'y'.repeat(20_000);
      await expect(store.writeSnapshot('state', 1, { version: 'after', big })).resolves.toBe(false);
      expect(store.writeSnapshotSync('state', 1, { version: 'after', big })).toBe(false);
      expect(store.appendJournal('events', [{ big }])).toBe(false);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', unhandled);
    }
    expect(unhandled).not.toHaveBeenCalled();
    expect(store.status()).toMatchObject({ state: 'degraded', errors: 3 });
    expect(store.status().lastError).toMatch(/^ENOSPC: no space left on device/);
    expect(lines.filter((line) => line.level === 50)).toEqual([
      expect.objectContaining({
        code: 'ENOSPC',
        msg: expect.stringMatching(new RegExp(`^state directory ${dir}: writing ${file('state.json')} failed \\(ENOSPC`)),
      }),
    ]);
    // The previous snapshot is whole, no temporary file is left, and the journal has no partial line.
    expect(store.readSnapshot('state', 1)?.data).toEqual({ version: 'before' });
    expect(store.readJournal('events')).toEqual([{ n: 1 }]);
    expect(read('events.log')).toBe('[{"n":1}]\n');
    expect(listing()).toEqual(['events.log', 'filler', 'heartbeat.lock', 'state.json']);

    rmSync(file('filler'));
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(true);
    expect(store.status().state).toBe('degraded'); // the snapshot has not been saved since
    await expect(store.writeSnapshot('state', 1, { version: 'after' })).resolves.toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', lastError: null, errors: 3 });
    expect(messages().at(-1)).toBe(`state directory ${dir} is writable again; state is saved as before`);
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a directory turned read-only: snapshots and journals degrade, and recover when it is writable again', async () => {
    const { store, lines } = open();
    expect(store.writeSnapshotSync('state', 1, { version: 'before' })).toBe(true);
    remount(dir, 'ro');
    await expect(store.writeSnapshot('state', 1, { version: 'after' })).resolves.toBe(false);
    expect(store.appendJournal('events', [{ n: 1 }])).toBe(false);
    expect(store.rewriteJournal('events', [])).toBe(false);
    expect(store.status()).toMatchObject({ state: 'degraded', errors: 3 });
    expect(store.status().lastError).toMatch(/^EROFS: read-only file system/);
    expect(lines.filter((line) => line.level === 50).map((line) => line.code)).toEqual(['EROFS']);
    expect(store.readSnapshot('state', 1)?.data).toEqual({ version: 'before' });

    remount(dir, 'rw');
    expect(store.appendJournal('events', [{ n: 1 }])).toBe(true);
    expect(store.rewriteJournal('events', [{ n: 1 }])).toBe(true);
    await expect(store.writeSnapshot('state', 1, { version: 'after' })).resolves.toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', lastError: null, errors: 3 });
    expect(store.readJournal('events')).toEqual([{ n: 1 }]);
  });

  it('a read-only directory at start: open does not throw, the store is degraded, and takes the lock once it is writable', async () => {
    writeFileSync(file('state.json'), 'garbage');
    writeFileSync(file('events.log'), '[{"n":1}]\n{"n');
    remount(dir, 'ro');
    const { store, messages } = open();
    expect(store.status()).toMatchObject({ state: 'degraded', errors: 1, lastWriteAt: null });
    expect(store.status().lastError).toMatch(/^EROFS: read-only file system/);
    expect(messages()).toEqual([expect.stringMatching(new RegExp(`^state directory ${dir}: taking the lock of ${dir} failed \\(EROFS`))]);
    // Reads work; what they would change waits for the lock.
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    expect(messages()[1]).toBe(
      `${file('state.json')} is not valid JSON (7 bytes); it cannot be set aside now, so it stays in place and is not overwritten`,
    );
    expect(store.readJournal('events')).toEqual([{ n: 1 }]);
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(false);
    expect(store.status()).toMatchObject({ state: 'degraded', errors: 4 });
    expect(listing()).toEqual(['events.log', 'state.json']);
    expect(read('events.log')).toBe('[{"n":1}]\n{"n');

    remount(dir, 'rw');
    await expect(store.writeSnapshot('state', 1, { fresh: true })).resolves.toBe(true);
    expect(store.appendJournal('events', [{ n: 2 }])).toBe(true);
    expect(read('events.log')).toBe('[{"n":1}]\n[{"n":2}]\n');
    expect(store.status()).toMatchObject({ state: 'ok', errors: 4 });
    expect(JSON.parse(read('heartbeat.lock'))).toMatchObject({ pid: process.pid });
    expect(read(`state.json.corrupt-${STAMP}`)).toBe('garbage');
    expect(store.readSnapshot('state', 1)?.data).toEqual({ fresh: true });
    expect(messages()).toHaveLength(5);
  });

  it('a corrupt snapshot that cannot be moved aside stays in place and is not overwritten until it has been', () => {
    writeFileSync(file('state.json'), 'garbage');
    const { store, messages } = open();
    remount(dir, 'ro');
    expect(store.readSnapshot('state', 1)).toBeUndefined();
    expect(messages()).toEqual([
      `${file('state.json')} is not valid JSON (7 bytes); it cannot be set aside now, so it stays in place and is not overwritten`,
      expect.stringMatching(new RegExp(`^state directory ${dir}: setting ${file('state.json')} aside failed \\(EROFS`)),
    ]);
    remount(dir, 'rw');
    // Writable again, but something keeps the name from being freed: the snapshot is not written.
    failNext('renameSync', 'EBUSY', { path: file('state.json') });
    expect(store.writeSnapshotSync('state', 1, { fresh: true })).toBe(false);
    expect(read('state.json')).toBe('garbage');
    expect(store.writeSnapshotSync('state', 1, { fresh: true })).toBe(true);
    expect(read(`state.json.corrupt-${STAMP}`)).toBe('garbage');
    expect(store.readSnapshot('state', 1)?.data).toEqual({ fresh: true });
    expect(messages()).toHaveLength(5);
    expect(messages()[3]).toBe(
      `${file('state.json')} is not valid JSON (7 bytes): moved aside to ${file(`state.json.corrupt-${STAMP}`)}; going on without it`,
    );
    expect(store.status().state).toBe('ok');
  });

  it('a damaged journal on a full disk is read, left as it is, appended to, and copied aside before a rewrite', () => {
    writeFileSync(file('events.log'), '[{"n":1}]\nbad\n[{"n":3}]\n{"n":');
    const { store, messages } = open();
    fillDisk();
    expect(store.readJournal('events')).toEqual([{ n: 1 }, { n: 3 }]);
    expect(listing()).toEqual(['events.log', 'filler', 'heartbeat.lock']);
    expect(messages()[0]).toBe(
      `${file('events.log')} is damaged: line 2 is not a JSON array; it cannot be set aside now, so it stays in place and is not overwritten`,
    );
    expect(store.rewriteJournal('events', [{ n: 1 }, { n: 3 }])).toBe(false);
    rmSync(file('filler'));
    expect(store.appendJournal('events', [{ n: 4 }])).toBe(true);
    expect(read('events.log')).toBe('[{"n":1}]\nbad\n[{"n":3}]\n[{"n":4}]\n');
    expect(store.rewriteJournal('events', [{ n: 1 }, { n: 3 }, { n: 4 }])).toBe(true);
    expect(read(`events.log.corrupt-${STAMP}`)).toBe('[{"n":1}]\nbad\n[{"n":3}]\n[{"n":4}]\n');
    expect(read('events.log')).toBe('[{"n":1},{"n":3},{"n":4}]\n');
    expect(store.status().state).toBe('ok');
  });
});
