import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatManager, fileStore, memoryStore, type HeartbeatStore } from '../lib';
import { failNext } from './helpers/fs-faults';
import { captureLogger } from './helpers/logger';

let dir = '';
const managers: HeartbeatManager[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-store-options-'));
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.close()));
  rmSync(dir, { recursive: true, force: true });
});

function manager(options: ConstructorParameters<typeof HeartbeatManager>[0]): HeartbeatManager {
  const created = new HeartbeatManager({ logger: captureLogger().logger, ...options });
  managers.push(created);
  return created;
}

describe('the store option', () => {
  it('refuses what is not a store, saying what one is', () => {
    expect(() => new HeartbeatManager({ store: { kind: 'file' } as unknown as HeartbeatStore })).toThrow(
      'Invalid HeartbeatManager options: "store" is an object; expected a store such as fileStore({ dir }) or memoryStore(): an object with load, append, health and close methods.',
    );
  });

  it('memoryStore() keeps nothing and says so, as no store does', async () => {
    const store = memoryStore();
    expect(store.load({ logger: captureLogger().logger, clock: { now: () => 0, wallNow: () => 0 } })).toEqual({
      snapshot: null,
      entries: [],
    });
    expect(store.append([['a', 1]], () => ({}))).toBe(true);
    await expect(store.close({})).resolves.toBeUndefined();
    const inMemory = manager({ store });
    inMemory.heartbeat({ tag: 'a', interval: 1 }).start().error('x');
    expect(inMemory.storeHealth()).toEqual({ state: 'memory', lastError: null, errors: 0, lastWriteAt: null });
    expect(manager({}).storeHealth()).toEqual(inMemory.storeHealth());
  });

  it('opens no store while heartbeats are disabled: nothing is watched, nothing written', () => {
    const disabled = manager({ config: { enabled: false }, store: fileStore({ dir: join(dir, 'state') }) });
    disabled.heartbeat({ tag: 'a' }).pulse();
    expect(existsSync(join(dir, 'state'))).toBe(false);
    expect(disabled.storeHealth().state).toBe('memory');
  });
});

describe('fileStore()', () => {
  it.each<[string, unknown, string]>([
    ['no dir', {}, 'Invalid fileStore options: "dir" is undefined; expected a directory path, e.g. "./.heartbeat".'],
    ['an empty dir', { dir: '' }, 'Invalid fileStore options: "dir" is ""; expected a directory path, e.g. "./.heartbeat".'],
    ['a tiny compaction threshold', { dir: 'x', compactAfterBytes: 10 }, 'Invalid fileStore options: "compactAfterBytes" is 10'],
    [
      'an unknown option',
      { dir: 'x', path: 'y' },
      'Invalid fileStore options: unknown key "path"; expected one of dir, compactAfterBytes.',
    ],
  ])('refuses %s, naming the option', (_, options, message) => {
    expect(() => fileStore(options as Parameters<typeof fileStore>[0])).toThrow(message);
  });

  it('serves one manager: a second one given the same store is told to use its own', async () => {
    const store = fileStore({ dir });
    const first = manager({ store });
    expect(() => new HeartbeatManager({ store, logger: captureLogger().logger })).toThrow(
      `This fileStore({ dir: ${JSON.stringify(dir)} }) is already used by a HeartbeatManager: give each manager its own store.`,
    );
    await first.close();
    expect(() => new HeartbeatManager({ store, logger: captureLogger().logger })).toThrow(/already used by a HeartbeatManager/);
  });

  it('ignores, with a warning, a state.json that holds no journal generation, and starts from the journal', () => {
    writeFileSync(
      join(dir, 'state.json'),
      `${JSON.stringify({ format: 1, written_at: '2026-11-30T10:00:00.000Z', data: { state: null } })}\n`,
    );
    const { logger, messages } = captureLogger();
    const started = new HeartbeatManager({ logger, store: fileStore({ dir }) });
    managers.push(started);
    expect(messages()).toContain(`${dir}/state.json holds no journal generation: its state is ignored`);
    expect(started.storeHealth().state).toBe('ok');
  });
});

describe('close()', () => {
  it('returns one promise however often it is called, settled once the directory is let go', async () => {
    const closing = manager({ store: fileStore({ dir }) });
    closing.heartbeat({ tag: 'a', interval: 1 }).start();
    const first = closing.close();
    expect(closing.close()).toBe(first);
    await first;
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('stops every heartbeat and settles even when the store throws at once, and logs it', async () => {
    const { logger, lines } = captureLogger();
    const throwing: HeartbeatStore = {
      kind: 'broken',
      load: () => ({ snapshot: null, entries: [] }),
      append: () => true,
      health: () => ({ state: 'ok', lastError: null, errors: 0, lastWriteAt: null }),
      close: () => {
        throw new Error('the connection is gone');
      },
    };
    const broken = new HeartbeatManager({ logger, store: throwing });
    const heartbeat = broken.heartbeat({ tag: 'a', interval: 1 }).start();
    await expect(broken.close()).resolves.toBeUndefined();
    expect(heartbeat.isActive).toBe(false);
    expect(lines.filter((line) => line.level === 50).map((line) => [line.msg, (line.err as { message: string }).message])).toEqual([
      ['The heartbeat store failed to close', 'the connection is gone'],
    ]);
  });
});

describe('a store that throws from append(), against its contract', () => {
  it('does not stop a change from being recorded and announced, and is logged', () => {
    const { logger, lines } = captureLogger();
    const throwing: HeartbeatStore = {
      kind: 'broken',
      load: () => ({ snapshot: null, entries: [] }),
      append: () => {
        throw new Error('the connection is gone');
      },
      health: () => ({ state: 'ok', lastError: null, errors: 0, lastWriteAt: null }),
      close: () => Promise.resolve(),
    };
    const watched = new HeartbeatManager({ logger, store: throwing });
    managers.push(watched);
    const heard: string[] = [];
    watched.on('status', (change) => heard.push(`${change.from}->${change.to}`));
    expect(() => {
      watched.heartbeat({ tag: 'a', interval: 1 }).start().error('disk full');
    }).not.toThrow();
    expect(heard).toEqual(['healthy->warning']);
    expect(watched.history('a')?.transitions.map((t) => t.to)).toEqual(['warning']);
    expect(lines.filter((line) => line.level === 50).map((line) => line.msg)).toEqual([
      'The broken store threw from append(); what it was given is kept in memory only',
    ]);
  });
});

describe('history(tag, { days })', () => {
  it.each([0, -1, 1.5, 91, Number.NaN])('refuses days of %p, naming the range', (days) => {
    const watched = manager({});
    watched.heartbeat({ tag: 'a' }).start();
    expect(() => watched.history('a', { days })).toThrow(
      `history(tag, { days }): days is ${String(days)}; expected a whole number from 1 to retention_days (90), e.g. 30.`,
    );
  });
});

describe('what a restart brings back is bounded', () => {
  /** A journal as a manager leaves it: the counters of each service, one batch. */
  function journalOf(services: Array<{ tag: string; remote: boolean; lastHeartbeat: number }>): void {
    const entries = services.map(({ tag, remote, lastHeartbeat }) => [
      'c',
      lastHeartbeat,
      {
        tag,
        remote,
        settings: { interval_ms: 30_000, grace_ms: 3000, critical: false },
        total_pulses: 1,
        error_count: 0,
        started_at: lastHeartbeat,
        last_heartbeat: lastHeartbeat,
        last_error: null,
      },
      lastHeartbeat,
      null,
    ]);
    writeFileSync(join(dir, 'journal-0.log'), `${JSON.stringify(entries)}\n`);
  }

  it('keeps the max_services remote services heard from last, and none silent for retention_days', () => {
    const now = Date.now();
    journalOf([
      { tag: 'oldest', remote: true, lastHeartbeat: now - 3000 },
      { tag: 'newest', remote: true, lastHeartbeat: now - 1000 },
      { tag: 'middle', remote: true, lastHeartbeat: now - 2000 },
      { tag: 'forgotten', remote: true, lastHeartbeat: now - 3 * 86_400_000 },
    ]);
    const restored = manager({ config: { max_services: 2, retention_days: 2 }, store: fileStore({ dir }) });
    expect(restored.tags().sort()).toEqual(['middle', 'newest']);
    expect(restored.restored).toMatchObject({ services: 2, skipped: 0 });
  });

  it('does not bring back a service removed before the crash', () => {
    const running = manager({ store: fileStore({ dir }) });
    running.heartbeat({ tag: 'short_lived', interval: 1 }).start().error('disk full'); // saved at once, with its counters
    running.heartbeat({ tag: 'staying', interval: 1 }).start().error('disk full');
    running.get('short_lived')?.stop(); // an ad-hoc service leaves: saved as removed
    const copy = mkdtempSync(join(tmpdir(), 'heartbeat-store-options-copy-'));
    try {
      // The files as a kill -9 now leaves them: the flush has not run, the removal was saved at once.
      for (const name of readdirSync(dir)) writeFileSync(join(copy, name), readFileSync(join(dir, name)));
      const next = manager({ store: fileStore({ dir: copy }) });
      expect(next.restored).toMatchObject({ services: 1, skipped: 0 });
      next.heartbeat({ tag: 'staying', interval: 1 }).start();
      expect(next.service('staying')?.error_count).toBe(1);
      next.heartbeat({ tag: 'short_lived', interval: 1 }).start();
      expect(next.service('short_lived')?.error_count).toBe(0);
      expect(next.history('short_lived')?.transitions).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('exportHistory()', () => {
  it("gives every shown service's history, as history(tag) does", () => {
    const watched = manager({});
    watched.heartbeat({ tag: 'a', interval: 1 }).start().error('disk full');
    watched.heartbeat({ tag: 'b', interval: 1 }).start();
    expect(watched.exportHistory()).toEqual([watched.history('a'), watched.history('b')]);
  });
});

describe('a journal the start could not read (injected: a failing disk)', () => {
  it('makes the store save nothing this run, so that no compaction deletes it unread; the next start reads it', async () => {
    const first = manager({ store: fileStore({ dir }) });
    first.heartbeat({ tag: 'a', interval: 1 }).start().error('disk full'); // journaled at once
    const journal = join(dir, 'journal-0.log');
    const saved = readFileSync(journal);
    // What a kill -9 leaves: the journal, and the lock of a process that is gone.
    const copy = mkdtempSync(join(tmpdir(), 'heartbeat-store-options-copy-'));
    try {
      for (const name of readdirSync(dir)) writeFileSync(join(copy, name), readFileSync(join(dir, name)));
      failNext('readFileSync', 'EIO', { path: join(copy, 'journal-0.log') });
      const blind = manager({ store: fileStore({ dir: copy }) });
      expect(blind.storeHealth()).toMatchObject({
        state: 'degraded',
        lastError: `${join(copy, 'journal-0.log')} could not be read at the start; nothing is saved until a restart can read it`,
      });
      blind.heartbeat({ tag: 'a', interval: 1 }).start().pulse();
      await blind.close();
      expect(readdirSync(copy).sort()).toEqual(['journal-0.log']);
      expect(readFileSync(join(copy, 'journal-0.log'))).toEqual(saved);
      jest.restoreAllMocks();
      const next = manager({ store: fileStore({ dir: copy }) });
      next.heartbeat({ tag: 'a', interval: 1 }).start();
      expect(next.service('a')?.error_count).toBe(1);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
