// The package as users install it: `npm pack`, then fresh consumer projects (test/external/*)
// that install the tarball with Express 4 or 5 as the peer, from CommonJS, ESM and strict
// TypeScript. What the tarball holds is checked too.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/child';

/** A TypeScript project on Express 5, compiled with the TypeScript this repository pins. */
const TYPESCRIPT_CONSUMER = {
  express: '^5.0.0',
  'prom-client': '^15.0.0',
  typescript: '~5.9.3',
  '@types/express': '^5.0.0',
  '@types/node': '^20.0.0',
};

let work: string;
let tarball: string;

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
}

/** A consumer project from test/external/<name>, with the tarball and `dependencies` installed. */
function consumer(name: string, dependencies: Record<string, string>, fixture = name): string {
  const dir = join(work, name);
  cpSync(join(ROOT, 'test', 'external', fixture), dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `consumer-${name}`, private: true, dependencies: { 'express-heartbeat': `file:${tarball}`, ...dependencies } }),
  );
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], dir);
  return dir;
}

function run(
  dir: string,
  file: string,
): { status: number; body: { services: Record<string, unknown>; overall_status: string }; express?: string } {
  const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) as string);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'heartbeat-consumers-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = join(work, (packed[0] as { filename: string }).filename);
  shipped = (packed[0] as { files: Array<{ path: string }> }).files.map((file) => file.path);
}, 120_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

let shipped: string[] = [];

it('ships only what users need', () => {
  expect(shipped).toContain('dist/index.js');
  expect(shipped).toContain('dist/index.d.ts');
  expect(shipped).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
  const unexpected = shipped.filter(
    (path) => !/^(dist\/.*\.(js|d\.ts)|package\.json|README\.md|LICENSE|CHANGELOG\.md|SECURITY\.md|openapi\.yaml)$/.test(path),
  );
  expect(unexpected).toEqual([]);
  expect(shipped.some((path) => path.endsWith('.map'))).toBe(false);
});

it('works from require() and from import, with Express 5', () => {
  const dir = consumer('cjs', { express: '^5.0.0', 'prom-client': '^15.0.0' });
  const cjs = run(dir, 'index.js');
  expect(cjs.express).toMatch(/^5\./);
  expect([cjs.status, cjs.body.overall_status, Object.keys(cjs.body.services)]).toEqual([200, 'healthy', ['flask_bridge']]);
  cpSync(join(ROOT, 'test', 'external', 'esm', 'index.mjs'), join(dir, 'index.mjs'));
  const esm = run(dir, 'index.mjs');
  expect([esm.status, Object.keys(esm.body.services)]).toEqual([200, ['save_worker']]);
}, 180_000);

it('mounts in Express 4 as the peer', () => {
  // The CommonJS consumer, as is: only the Express it installs differs.
  const dir = consumer('express4', { express: '^4.21.0', 'prom-client': '^15.0.0' }, 'cjs');
  const result = run(dir, 'index.js');
  expect(result.express).toMatch(/^4\./);
  expect([result.status, Object.keys(result.body.services)]).toEqual([200, ['flask_bridge']]);
}, 180_000);

it('type-checks a strict TypeScript consumer, and refuses a wrong call', () => {
  const dir = consumer('typescript', TYPESCRIPT_CONSUMER);
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const ok = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' });
  expect(ok.stdout + ok.stderr).toBe('');
  expect(ok.status).toBe(0);
  const wrong = spawnSync(
    process.execPath,
    [tsc, '--strict', '--noEmit', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', 'wrong.ts'],
    { cwd: dir, encoding: 'utf8' },
  );
  expect(wrong.status).not.toBe(0);
  expect(wrong.stdout).toMatch(/wrong\.ts\(4,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  expect(readdirSync(dir)).not.toContain('ok.js');
}, 180_000);

it('runs the README quick start, pasted into a new project as written', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1] as string;
  expect(snippet).toContain('app.use(healthRouter())');
  const port = Number(/app\.listen\((\d+)\)/.exec(snippet)?.[1]);
  const free = await new Promise<boolean>((resolve) => {
    const probe = net.createServer().once('error', () => {
      resolve(false);
    });
    probe.listen(port, () =>
      probe.close(() => {
        resolve(true);
      }),
    );
  });
  if (!free) throw new Error(`Port ${port}, which the quick start listens on, is taken: stop what uses it and run again.`);

  const dir = consumer('typescript', TYPESCRIPT_CONSUMER);
  writeFileSync(join(dir, 'quickstart.ts'), snippet);
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const compiled = spawnSync(
    process.execPath,
    [tsc, '--strict', '--esModuleInterop', '--module', 'commonjs', '--outDir', 'out', 'quickstart.ts'],
    { cwd: dir, encoding: 'utf8' },
  );
  expect(compiled.stdout + compiled.stderr).toBe('');
  const app = spawn(process.execPath, ['out/quickstart.js'], { cwd: dir, stdio: 'ignore' });
  try {
    let body: { services?: Record<string, { status: string }> } = {};
    for (let attempt = 0; attempt < 100 && !body.services; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      body = await fetch(`http://127.0.0.1:${port}/api/health/status`).then(
        (r) => r.json() as typeof body,
        () => ({}),
      );
    }
    expect(body.services?.flask_bridge?.status).toBe('healthy');
    const page = await fetch(`http://127.0.0.1:${port}/api/health/ui`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('heartbeat_service_status{service="flask_bridge"} 0');
  } finally {
    app.kill();
  }
}, 180_000);
