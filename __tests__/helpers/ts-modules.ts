import { execFile, spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, waitForExit } from './child';

/** What a module prints as it ends, once everything before it ran. */
export const DONE = 'docs-test: done';

/**
 * `./harness.mjs`, which the modules may import as `docsTest`: the library, node's strict
 * assert, a bounded poll and a way to serve an app on a free port.
 */
const HARNESS = `import assert from 'node:assert/strict';
import type { Server } from 'node:http';
export * as lib from 'express-heartbeat';
export { assert };

/** Polls \`read\` every 10 ms until it gives a value, for at most \`timeoutMs\`. */
export async function until<T>(read: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(\`Gave up waiting for \${what} after \${timeoutMs} ms\`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Serves an Express app on a free loopback port; resolves with its base URL. */
export async function serve(app: { listen(port: number, host: string): Server }): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  return \`http://127.0.0.1:\${typeof address === 'object' && address ? address.port : 0}\`;
}
`;

const LIB = join(ROOT, 'lib', 'index.ts');

/**
 * ES modules written as a reader would, importing `express-heartbeat`, which is this
 * repository's lib/index.ts: type-checked together in one strict program, then each run in a
 * Node process of its own through tsx. The directory links the repository's node_modules, so
 * the modules and the library share one Express and one prom-client.
 */
export class TsModules {
  private readonly files: string[] = [];

  constructor(private readonly dir: string) {
    mkdirSync(dir);
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'harness.mts'), HARNESS);
    const runtime = { compilerOptions: { paths: { 'express-heartbeat': [LIB] } } };
    writeFileSync(join(dir, 'tsconfig.run.json'), JSON.stringify(runtime));
  }

  /** Writes a module whose body is `prelude`, `code` and `check`, then prints DONE and exits. Returns its file name. */
  add(name: string, prelude: string, code: string, check: string): string {
    const file = `${name}.mts`;
    writeFileSync(
      join(this.dir, file),
      `import * as docsTest from './harness.mjs';\n${prelude}\n${code}${check}\nconsole.log(${JSON.stringify(DONE)});\nprocess.exit(0);\n`,
    );
    this.files.push(file);
    return file;
  }

  /** Line of a module where `code` starts, for a prelude of this many lines. */
  static codeLine(preludeLines: number): number {
    return preludeLines + 2;
  }

  /** `tsc`'s output for all the modules at once: empty when they type-check. */
  typecheck(): Promise<string> {
    const compilerOptions = {
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      module: 'preserve',
      moduleResolution: 'bundler',
      strict: true,
      noUncheckedIndexedAccess: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      paths: { 'express-heartbeat': [LIB] },
    };
    writeFileSync(join(this.dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['harness.mts', ...this.files] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    return new Promise((resolve) => {
      execFile(process.execPath, [tsc, '-p', this.dir], { cwd: this.dir, timeout: 120_000 }, (_error, stdout, stderr) => {
        resolve(`${stdout}${stderr}`);
      });
    });
  }

  /** Runs one module, killed after `timeoutMs`; rejects with its stderr unless it got to the end and exited 0. */
  async run(file: string, timeoutMs = 40_000): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: join(this.dir, 'tsconfig.run.json') };
    delete env.HEARTBEAT_CONFIG;
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const result = await waitForExit(child);
    clearTimeout(killer);
    if (result.code !== 0 || !result.stdout.includes(DONE)) {
      throw new Error(`${file} (in ${this.dir}) exited ${String(result.code ?? result.signal)}:\n${result.stderr}`);
    }
  }
}
