import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/child';

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}

/** Runs dependency-cruiser over `lib/` under `cwd` with the project's rules (.dependency-cruiser.cjs). */
function cruise(cwd: string): { violations: Violation[]; modules: number; rules: string[] } {
  const run = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'),
      'lib',
      '--config',
      '.dependency-cruiser.cjs',
      '--output-type',
      'json',
    ],
    { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (!run.stdout) throw new Error(`dependency-cruiser printed nothing: ${run.stderr}`);
  const { summary } = JSON.parse(run.stdout) as {
    summary: { violations: Violation[]; totalCruised: number; ruleSetUsed: { forbidden: Array<{ name: string }> } };
  };
  return { violations: summary.violations, modules: summary.totalCruised, rules: summary.ruleSetUsed.forbidden.map((rule) => rule.name) };
}

it('keeps lib/ in layers: no import cycle, the core free of the layers that serve it and of Express and prom-client', () => {
  const { violations, modules, rules } = cruise(ROOT);
  expect(rules).toEqual(
    expect.arrayContaining(['no-circular', 'core-stays-inside', 'core-without-express-or-prom-client', 'exporters-do-not-use-http']),
  );
  expect(modules).toBeGreaterThan(40); // it read the library, not an empty folder
  expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
});

it('names a cycle and a core module that reaches out, when someone adds them', () => {
  // The same rules over a copy of lib/ with two bad imports added, so the check above cannot pass by accident.
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-layers-'));
  try {
    for (const entry of ['lib', 'tsconfig.json', '.dependency-cruiser.cjs'])
      cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    cpSync(join(ROOT, 'node_modules', 'express'), join(dir, 'node_modules', 'express'), { recursive: true });
    writeFileSync(join(dir, 'lib', 'core', 'reaches-out.ts'), "import '../http/router';\nimport 'express';\n");
    writeFileSync(join(dir, 'lib', 'core', 'cycle-a.ts'), "import { b } from './cycle-b';\nexport const a = () => b;\n");
    writeFileSync(join(dir, 'lib', 'core', 'cycle-b.ts'), "import { a } from './cycle-a';\nexport const b = () => a;\n");
    const found = cruise(dir).violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'no-circular: lib/core/cycle-a.ts → lib/core/cycle-b.ts',
        'core-stays-inside: lib/core/reaches-out.ts → lib/http/router.ts',
        'core-without-express-or-prom-client: lib/core/reaches-out.ts → node_modules/express/index.js',
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
