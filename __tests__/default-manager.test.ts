import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Lib = typeof import('../lib');

/** A fresh copy of the library, so each test sees its own default manager. */
function freshLib(): Lib {
  let lib: Lib | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- isolateModules needs a synchronous load to give each test a fresh default manager
    lib = require('../lib') as Lib;
  });
  return lib as Lib;
}

const saved = process.env.HEARTBEAT_CONFIG;
afterEach(() => {
  if (saved === undefined) delete process.env.HEARTBEAT_CONFIG;
  else process.env.HEARTBEAT_CONFIG = saved;
});

it('creates nothing at import time', () => {
  process.env.HEARTBEAT_CONFIG = '/nonexistent/heartbeat.json';
  // Importing must not read the config: the bad path only fails on first use.
  const lib = freshLib();
  expect(() => lib.getDefaultManager()).toThrow('Cannot read heartbeat config /nonexistent/heartbeat.json (from HEARTBEAT_CONFIG)');
});

it('registers heartbeats without a manager with the default one', () => {
  delete process.env.HEARTBEAT_CONFIG;
  const lib = freshLib();
  const heartbeat = new lib.Heartbeat({ tag: 'save_worker', interval: 30 });
  expect(heartbeat.manager).toBe(lib.getDefaultManager());
  expect(lib.getConfig().heartbeat.enabled).toBe(true);
  void lib.getDefaultManager().close();
});

it('reads the HEARTBEAT_CONFIG file, as the seed troubleshooting shows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-default-'));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ enabled: false, log_level: 'silent' }));
  process.env.HEARTBEAT_CONFIG = path;
  const lib = freshLib();
  expect(lib.getConfig().heartbeat.enabled).toBe(false);
  const heartbeat = new lib.Heartbeat({ interval: 30, tag: 'test' });
  expect(heartbeat.isActive).toBe(false);
  expect(lib.getDefaultManager().status().overall_status).toBe('offline');
});

it('creates a fresh default manager after the old one is closed', () => {
  delete process.env.HEARTBEAT_CONFIG;
  const lib = freshLib();
  const first = lib.getDefaultManager();
  void first.close();
  const second = lib.getDefaultManager();
  expect(second).not.toBe(first);
  void second.close();
});
