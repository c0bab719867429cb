import { spawnSync } from 'node:child_process';

/** Runs Debian's `promtool check metrics` on an exposition; `npm test` installs it first. */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error)
    throw new Error(`promtool could not run (${result.error.message}); npm test installs it through scripts/ensure-system-deps.js.`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The sample lines of an exposition, as `name{labels}` → value. Throws on a repeated series. */
export function parseSamples(exposition: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const series = line.slice(0, cut);
    if (samples.has(series)) throw new Error(`Series ${series} appears twice`);
    samples.set(series, Number(line.slice(cut + 1)));
  }
  return samples;
}
