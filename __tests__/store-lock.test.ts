import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import fs, { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryInUseError, StateDirectory } from '../lib/store';
import { LOCK_RENEW_MS, LOCK_STALE_MS } from '../lib/store/lock';
import { spawnTs, waitForExit } from './helpers/child';
import { failNext } from './helpers/fs-faults';
import { captureLogger } from './helpers/logger';

let dir: string;
let lockPath: string;
const children: ChildProcess[] = [];
const opened: StateDirectory[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-lock-'));
  lockPath = join(dir, 'heartbeat.lock');
});

afterEach(async () => {
  jest.restoreAllMocks();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

function open(logger = captureLogger().logger): StateDirectory {
  const store = StateDirectory.open({ dir, logger });
  opened.push(store);
  return store;
}

const inUse = (pid: number): string => `${dir} is in use by process ${pid}; stop it, or give this process another directory`;

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  const run = spawnSync(process.execPath, ['-e', '']);
  return run.pid;
}

/** Starts the holder child on `dir` and resolves with its first line of output, waiting at most 15 s. */
function startHolder(): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawnTs('__tests__/helpers/store-holder.ts', { HEARTBEAT_TEST_STORE_DIR: dir });
  children.push(child);
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      reject(new Error(`the child printed no line in 15 s; stderr: ${err}`));
    }, 15_000);
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(out.slice(0, out.indexOf('\n')));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the child exited (${code}) before a line; stderr: ${err}`));
    });
  });
  return { child, firstLine };
}

describe('one writer', () => {
  it('refuses a second StateDirectory in the same process, naming the directory and saying to close() the other', () => {
    open();
    expect(() => StateDirectory.open({ dir, logger: captureLogger().logger })).toThrow(new DirectoryInUseError(dir, process.pid));
    expect(() => StateDirectory.open({ dir, logger: captureLogger().logger })).toThrow(
      `${dir} is in use by this process (${process.pid}): close the manager or store that holds it first, or give this one another directory`,
    );
  });

  it('refuses a second process, which names the directory and the PID holding it', async () => {
    open();
    const child = spawnTs('__tests__/helpers/store-holder.ts', { HEARTBEAT_TEST_STORE_DIR: dir });
    children.push(child);
    const { code, stdout, stderr } = await waitForExit(child);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(inUse(process.pid));
    expect(code).toBe(3);
  });

  it('is refused while another process holds the directory even when the disk is full (nothing is written before the holder is judged)', async () => {
    const { child, firstLine } = startHolder();
    expect(await firstLine).toBe(`holding ${child.pid}`);
    failNext('writeFileSync', 'ENOSPC'); // the scratch lock file would fail, a storage fault that opens degraded
    expect(() => StateDirectory.open({ dir, logger: captureLogger().logger })).toThrow(inUse(child.pid as number));
  }, 40_000);

  it('is refused while another process holds the directory, and takes it over at once when that process is killed with SIGKILL', async () => {
    const { child, firstLine } = startHolder();
    expect(await firstLine).toBe(`holding ${child.pid}`);
    const holder = child.pid as number;
    expect(() => StateDirectory.open({ dir, logger: captureLogger().logger })).toThrow(inUse(holder));

    const exited = waitForExit(child);
    child.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    const { logger, lines } = captureLogger();
    const store = open(logger);
    expect(store.status().state).toBe('ok');
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, pid: holder, msg: `took over ${dir} from process ${holder}, which is no longer running` }),
    ]);
  }, 40_000);

  it('is free again after close(), which is safe to call twice; writes after it are ignored and reads are refused', async () => {
    const first = open();
    await first.close();
    await first.close();
    expect(existsSync(lockPath)).toBe(false);
    expect(first.appendJournal('events', [{ a: 1 }])).toBe(false);
    expect(first.writeSnapshotSync('state', 1, {})).toBe(false);
    await expect(first.writeSnapshot('state', 1, {})).resolves.toBe(false);
    expect(first.rewriteJournal('events', [])).toBe(false);
    expect(() => first.readSnapshot('state', 1)).toThrow(`The state directory ${dir} is closed`);
    expect(() => first.readJournal('events')).toThrow(`The state directory ${dir} is closed`);
    expect(readdirSync(dir)).toEqual([]);

    const second = open();
    expect(second.status()).toEqual({ state: 'ok', lastError: null, errors: 0, lastWriteAt: null });
  });

  it('releases the lock only once the snapshot writes in flight are done', async () => {
    const store = open();
    const write = store.writeSnapshot('state', 1, { n: 1 });
    const closed = store.close();
    expect(existsSync(lockPath)).toBe(true);
    await closed;
    await expect(write).resolves.toBe(true);
    expect(existsSync(lockPath)).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toMatchObject({ format: 1, data: { n: 1 } });
  });

  it.each([
    ['replaced by another process', ['heartbeat.lock']],
    ['deleted', []],
  ])('does not remove a lock file on close() that was %s meanwhile', async (what, left) => {
    const store = open();
    rmSync(lockPath);
    if (left.length > 0) writeFileSync(lockPath, '{"pid":1}\n');
    await store.close();
    expect(readdirSync(dir)).toEqual(left);
  });
});

describe('a lock whose holder is gone', () => {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it.each([
    ['a process that exited', () => ({ pid: deadPid(), boot_id: bootId }), true],
    ['an earlier process with this very PID (PID 1 in a restarted container)', () => ({ pid: process.pid, boot_id: bootId }), true],
    ['a live PID, written before a reboot', () => ({ pid: process.ppid, boot_id: 'another-boot' }), true],
    ['no process at all (not a lock)', () => 'garbage', false],
    ['no process at all (JSON null)', () => 'null', false],
  ])('is taken over at once when it names %s', (_, content, logged) => {
    const written = content();
    const previous = typeof written === 'string' ? undefined : written.pid;
    writeFileSync(lockPath, typeof written === 'string' ? written : JSON.stringify(written));
    const { logger, lines } = captureLogger();
    expect(open(logger).status().state).toBe('ok');
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, boot_id: bootId });
    expect(lines.map((line) => line.msg)).toEqual(logged ? [`took over ${dir} from process ${previous}, which is no longer running`] : []);
    expect(readdirSync(dir)).toEqual(['heartbeat.lock']);
  });

  it('is not taken over when the PID is alive and no boot id says otherwise', () => {
    writeFileSync(lockPath, JSON.stringify({ pid: process.ppid }));
    expect(() => open()).toThrow(inUse(process.ppid));
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toEqual({ pid: process.ppid });
  });
});

describe('a holder in another host or PID namespace, or whose PID was reused', () => {
  /** The lock this process writes (released at once: close() with no write in flight releases before it returns). */
  function here(): Record<string, string | number> {
    const store = StateDirectory.open({ dir, logger: captureLogger().logger });
    const text = readFileSync(lockPath, 'utf8');
    void store.close();
    return JSON.parse(text) as Record<string, string | number>;
  }

  it('records this process: PID, host, boot id, PID namespace and start time', () => {
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    expect(here()).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
      boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pid_ns: fs.readlinkSync('/proc/self/ns/pid'),
      start_time: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
    });
  });

  it.each([
    ['another host (another boot id too)', { hostname: 'other-host', boot_id: 'other-boot' }],
    ['another PID namespace with this very PID (containers sharing a volume, both PID 1)', { pid_ns: 'pid:[4026530000]' }],
  ])('is refused, not judged, when it runs on %s, naming the lock file to delete', (_, differences) => {
    const theirs: Record<string, string | number> = { ...here(), ...differences, id: 'theirs' };
    const written = JSON.stringify(theirs);
    writeFileSync(lockPath, written);
    const recorded = JSON.stringify({ hostname: theirs.hostname, pid_ns: theirs.pid_ns });
    expect(() => open()).toThrow(
      `${dir} is in use by process ${process.pid} of another host or PID namespace (${recorded}), which this process cannot check; ` +
        `if it is gone, its lock is taken over 35 s after its last renewal (start again then, or delete ${lockPath} now)`,
    );
    expect(readFileSync(lockPath, 'utf8')).toBe(written);
  });

  it('is taken over once its lease ran out: 35 s without a renewal (a container restarted in a new PID namespace after a crash)', () => {
    const theirs = JSON.stringify({ ...here(), pid_ns: 'pid:[4026530000]', id: 'theirs' });
    writeFileSync(lockPath, theirs);
    const renewedAt = (Date.now() - LOCK_STALE_MS + 2000) / 1000;
    utimesSync(lockPath, renewedAt, renewedAt);
    expect(() => open()).toThrow(/in use by process/);
    const expiredAt = (Date.now() - LOCK_STALE_MS - 1000) / 1000;
    utimesSync(lockPath, expiredAt, expiredAt);
    const { logger, lines } = captureLogger();
    expect(open(logger).status().state).toBe('ok');
    expect(lines.map((line) => line.msg)).toEqual([
      `took over ${dir} from process ${process.pid}, of another host or PID namespace, whose lock was not renewed for 35 s`,
    ]);
  });

  it("renews its own lock's mtime every 10 s while held, and stops at close()", async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const store = StateDirectory.open({ dir, logger: captureLogger().logger });
      const old = (Date.now() - 60_000) / 1000;
      utimesSync(lockPath, old, old);
      jest.advanceTimersByTime(LOCK_RENEW_MS);
      expect(statSync(lockPath).mtimeMs).toBeGreaterThan(Date.now() - 5000);
      await store.close();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('is taken over when its PID runs but started at another time (a dead holder whose PID was reused)', () => {
    const mine = here();
    writeFileSync(lockPath, JSON.stringify({ ...mine, pid: process.ppid, start_time: '1', id: 'theirs' }));
    const { logger, lines } = captureLogger();
    expect(open(logger).status().state).toBe('ok');
    expect(lines.map((line) => line.msg)).toEqual([`took over ${dir} from process ${process.ppid}, which is no longer running`]);
  });

  it('is judged by its PID alone where /proc says nothing (not Linux)', () => {
    const noProc = (path: unknown): boolean => String(path).startsWith('/proc/');
    const { readFileSync: realRead, readlinkSync: realLink } = fs;
    jest.spyOn(fs, 'readlinkSync').mockImplementation(((path: string) => {
      if (noProc(path)) throw Object.assign(new Error('ENOENT: injected'), { code: 'ENOENT' });
      return realLink(path);
    }) as typeof fs.readlinkSync);
    jest.spyOn(fs, 'readFileSync').mockImplementation(((path: string, options?: unknown) => {
      if (noProc(path) && path.endsWith('/stat')) throw Object.assign(new Error('ENOENT: injected'), { code: 'ENOENT' });
      return realRead(path, options as BufferEncoding);
    }) as typeof fs.readFileSync);
    writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, start_time: '1' }));
    expect(() => open()).toThrow(inUse(process.ppid));
    rmSync(lockPath);
    const lock = here();
    expect(lock).not.toHaveProperty('pid_ns');
    expect(lock).not.toHaveProperty('start_time');
  });
});

describe('scratch files', () => {
  it('removes, when it takes the lock, the scratch files left by processes that died taking it, and no live one', () => {
    const dead = deadPid();
    const left = [`heartbeat.lock.new-${dead}-0123456789ab`, `heartbeat.lock.stale-${dead}-ba9876543210`];
    const live = `heartbeat.lock.new-${process.ppid}-0123456789ab`;
    for (const name of [...left, live, 'heartbeat.lock.new-x']) writeFileSync(join(dir, name), '{}');
    open();
    expect(readdirSync(dir).sort()).toEqual(['heartbeat.lock', 'heartbeat.lock.new-x', live].sort());
  });

  it('leaves them for the next start when the directory cannot be listed', () => {
    const name = `heartbeat.lock.new-${deadPid()}-0123456789ab`;
    writeFileSync(join(dir, name), '{}');
    failNext('readdirSync', 'EIO', { count: 2 });
    open();
    expect(readdirSync(dir).sort()).toEqual(['heartbeat.lock', name]);
  });
});

describe('races and faults of the lock file (injected: they need another process at an exact instant, or a failing disk)', () => {
  const realRename = fs.renameSync;

  it.each([
    ['gives that lock back', false],
    ['leaves alone a third lock taken meanwhile', true],
  ])('when a live process takes the lock between the check and the takeover, it %s and refuses', (_, third) => {
    writeFileSync(lockPath, JSON.stringify({ pid: deadPid() }));
    jest.spyOn(fs, 'renameSync').mockImplementationOnce((from, to) => {
      rmSync(lockPath);
      writeFileSync(lockPath, JSON.stringify({ pid: process.ppid }));
      realRename(from, to);
      if (third) writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, third: true }));
    });
    expect(() => open()).toThrow(inUse(process.ppid));
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toEqual(third ? { pid: process.ppid, third: true } : { pid: process.ppid });
    expect(readdirSync(dir)).toEqual(['heartbeat.lock']);
  });

  it('takes the lock when the dead holder was removed by someone else first', () => {
    writeFileSync(lockPath, JSON.stringify({ pid: deadPid() }));
    jest.spyOn(fs, 'renameSync').mockImplementationOnce((from, to) => {
      rmSync(lockPath);
      realRename(from, to);
    });
    const { logger, lines } = captureLogger();
    expect(open(logger).status().state).toBe('ok');
    expect(lines).toEqual([]);
    expect(readdirSync(dir)).toEqual(['heartbeat.lock']);
  });

  it('gives up with an error after 5 attempts when the lock keeps appearing and vanishing', () => {
    failNext('linkSync', 'EEXIST', { count: Infinity });
    expect(() => open()).toThrow(`${dir}: could not take ${lockPath} in 5 attempts; other processes keep taking and releasing it`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each(['EPERM', 'ENOTSUP'])(
    'a file system without hard links (link fails with %s every time): the lock file is created exclusively instead, and works as a lock',
    async (code) => {
      writeFileSync(lockPath, JSON.stringify({ pid: deadPid() }));
      const links = failNext('linkSync', code, { count: Infinity });
      const { logger, lines } = captureLogger();
      const store = open(logger);
      expect(store.status().state).toBe('ok');
      expect(links.mock.calls.length).toBeGreaterThanOrEqual(2); // refused by the dead holder's file, then by none
      expect(lines.map((line) => line.msg)).toEqual([expect.stringMatching(/^took over .* which is no longer running$/)]);
      expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
      expect(readdirSync(dir)).toEqual(['heartbeat.lock']);
      await store.close();
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('on a file system without hard links, starts degraded when creating the lock file fails with a storage fault', () => {
    failNext('linkSync', 'EPERM', { count: Infinity });
    failNext('openSync', 'EACCES', { path: lockPath });
    const store = open();
    expect(store.status()).toMatchObject({ state: 'degraded', lastError: 'EACCES: injected, openSync' });
    expect(store.writeSnapshotSync('state', 1, {})).toBe(true);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('on a file system without hard links, gives back, by copying, a lock a live process took between the check and the takeover', () => {
    writeFileSync(lockPath, JSON.stringify({ pid: deadPid() }));
    failNext('linkSync', 'EPERM', { count: Infinity });
    jest.spyOn(fs, 'renameSync').mockImplementationOnce((from, to) => {
      rmSync(lockPath);
      writeFileSync(lockPath, JSON.stringify({ pid: process.ppid }));
      realRename(from, to);
    });
    expect(() => open()).toThrow(inUse(process.ppid));
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toEqual({ pid: process.ppid });
    expect(readdirSync(dir)).toEqual(['heartbeat.lock']);
  });

  it.each([
    ['linking it', 'linkSync', 'EIO'],
    ['reading the holder', 'openSync', 'EACCES'],
    ['moving a dead holder aside', 'renameSync', 'EROFS'],
  ] as const)('starts degraded when %s fails with a storage fault, and takes the lock at the next write', (_, method, code) => {
    writeFileSync(lockPath, JSON.stringify({ pid: deadPid() }));
    failNext(method, code, { path: method === 'linkSync' ? undefined : lockPath });
    const { logger, lines } = captureLogger();
    const store = open(logger);
    expect(store.status()).toEqual({ state: 'degraded', lastError: `${code}: injected, ${method}`, errors: 1, lastWriteAt: null });
    expect(lines.map((line) => line.msg)).toEqual([
      `state directory ${dir}: taking the lock of ${dir} failed (${code}: injected, ${method}); monitoring goes on in memory, and each later write tries again`,
    ]);
    expect(store.writeSnapshotSync('state', 1, {})).toBe(true);
    expect(store.status()).toMatchObject({ state: 'ok', lastError: null, errors: 1 });
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
  });
});

describe('options', () => {
  it('throws at open when the directory path is a file, naming it', () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(() => StateDirectory.open({ dir: join(file, 'state'), logger: captureLogger().logger })).toThrow(
      `ENOTDIR: not a directory, mkdir '${join(file, 'state')}'`,
    );
  });

  it.each([
    [{ dir: '' }, 'Invalid state directory options: "dir" is ""; expected a directory path.'],
    [{ dir: 5 }, 'Invalid state directory options: "dir" is 5; expected a directory path.'],
    [{ dir: 'x' }, 'Invalid state directory options: "logger" is undefined; expected a pino logger.'],
    [
      { dir: 'x', logger: captureLogger().logger, mode: 1 },
      'Invalid state directory options: unknown key "mode"; expected one of dir, logger, clock.',
    ],
    [null, 'Invalid state directory options: "" is null; expected an object.'],
  ])('rejects %p', (options, message) => {
    expect(() => StateDirectory.open(options as never)).toThrow(message);
  });
});
