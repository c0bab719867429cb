// The API reference in docs/api is generated from the TSDoc comments; it must match the code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/child';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

it('documents every exported name, and docs/api is up to date (npm run docs)', () => {
  const out = mkdtempSync(join(tmpdir(), 'heartbeat-api-docs-'));
  try {
    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    // typedoc.json treats every warning (an undocumented export, a broken link) as an error.
    expect(run.stdout.replace(/^.*\[info\].*$/gm, '').trim() + run.stderr).toBe('');
    expect(run.status).toBe(0);
    const committed = join(ROOT, 'docs', 'api');
    const generated = files(out)
      .map((file) => relative(out, file))
      .sort();
    expect(
      files(committed)
        .map((file) => relative(committed, file))
        .sort(),
    ).toEqual(generated);
    for (const file of generated) {
      expect([file, readFileSync(join(committed, file), 'utf8')]).toEqual([file, readFileSync(join(out, file), 'utf8')]);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);
