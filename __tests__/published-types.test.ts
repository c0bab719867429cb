import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/child';

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(suffix))
    .map((file) => join(dir, file));
}

/** Every `@internal` declaration in lib/: the file it is in, and its name. */
function internalDeclarations(): Array<{ file: string; name: string }> {
  const found: Array<{ file: string; name: string }> = [];
  for (const path of filesUnder(join(ROOT, 'lib'), '.ts')) {
    const source = readFileSync(path, 'utf8');
    // A doc comment that holds @internal, then the declaration's name on the next code line.
    for (const match of source.matchAll(
      /\/\*\*(?:(?!\*\/)[\s\S])*@internal[\s\S]*?\*\/\s*(?:export\s+)?(?:function\s+|get\s+|readonly\s+|\*)?(\w+)/g,
    )) {
      found.push({ file: relative(join(ROOT, 'lib'), path).replace(/\.ts$/, '.d.ts'), name: match[1] as string });
    }
  }
  return found;
}

it('publishes only the public API in its .d.ts files: no @internal member reaches them', () => {
  const out = mkdtempSync(join(tmpdir(), 'heartbeat-dts-'));
  try {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--outDir', out], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(build.stdout + build.stderr).toBe('');
    const internals = internalDeclarations();
    // The engine's hooks and views are marked internal; if none were found, this test would check nothing.
    expect(internals.map((entry) => entry.name)).toEqual(expect.arrayContaining(['attach', 'statusView', 'listedRecords', 'started']));
    const leaks: string[] = [];
    for (const { file, name } of internals) {
      const declarations = readFileSync(join(out, file), 'utf8');
      if (new RegExp(`^\\s*(?:export declare function |get |readonly |\\*?)${name}\\b[(<:]?`, 'm').test(declarations))
        leaks.push(`${file}: ${name}`);
    }
    expect(leaks).toEqual([]);
    for (const path of filesUnder(out, '.d.ts'))
      expect([relative(out, path), readFileSync(path, 'utf8').includes('@internal')]).toEqual([relative(out, path), false]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);
