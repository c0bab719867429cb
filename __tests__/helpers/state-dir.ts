import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../lib/util/clock';
import { StateDirectory } from '../../lib/store';
import { captureLogger, type LogLine } from './logger';

/** The wall time every store test writes, and how it reads in a `.corrupt-` name. */
export const WALL = Date.parse('2026-11-30T07:40:00.123Z');
export const STAMP = '2026-11-30T07-40-00.123Z';
export const wallClock: Clock = { now: () => 0, wallNow: () => WALL };

export interface StateDirectoryFixture {
  /** This test's own directory, new for each test. */
  readonly dir: string;
  /** Opens a StateDirectory on it, with a captured log unless given a logger; it is closed after the test. */
  readonly open: (overrides?: { logger?: Logger; clock?: Clock }) => { store: StateDirectory; messages: () => string[]; lines: LogLine[] };
  readonly file: (name: string) => string;
  readonly read: (name: string) => string;
  readonly listing: () => string[];
}

/**
 * Gives each test of the file a fresh temporary directory and removes it after, once every
 * store opened on it is closed and `beforeRemove` (an unmount, say) has run. Call at the top
 * level of a test file.
 */
export function useStateDirectory(beforeRemove: (dir: string) => void = () => undefined): StateDirectoryFixture {
  let dir = '';
  const opened: StateDirectory[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'heartbeat-store-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(opened.splice(0).map((store) => store.close()));
    beforeRemove(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string): string => join(dir, name);
  return {
    get dir() {
      return dir;
    },
    open: (overrides = {}) => {
      const { logger, lines, messages } = captureLogger();
      const store = StateDirectory.open({ dir, logger: overrides.logger ?? logger, clock: overrides.clock ?? wallClock });
      opened.push(store);
      return { store, lines, messages };
    },
    file,
    read: (name) => readFileSync(file(name), 'utf8'),
    listing: () => readdirSync(dir).sort(),
  };
}
