// npm run bench [-- --quick] [-- NAME …]: runs the benchmarks and prints their figures.
import { cpus } from 'node:os';
import { benchPulse } from './pulse';
import type { Figure } from './measure';

const BENCHMARKS: Record<string, (quick: boolean) => Promise<Figure[]>> = {
  pulse: benchPulse,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const chosen = args.filter((arg) => !arg.startsWith('--'));
  for (const name of chosen) {
    if (!BENCHMARKS[name]) throw new Error(`Unknown benchmark "${name}"; choose from ${Object.keys(BENCHMARKS).join(', ')}.`);
  }
  const cpu = cpus();
  console.log(`# ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}${quick ? ', quick' : ''}`);
  for (const [name, run] of Object.entries(BENCHMARKS)) {
    if (chosen.length > 0 && !chosen.includes(name)) continue;
    const figures = await run(quick);
    const byName = new Map(figures.map((figure) => [figure.name, figure]));
    for (const figure of figures) {
      const anchor = figure.anchor ? byName.get(figure.anchor) : undefined;
      const ratio = anchor && anchor.median > 0 ? `  (${(figure.median / anchor.median).toFixed(2)}× ${anchor.name})` : '';
      console.log(`${figure.name}: ${format(figure.median)} [${format(figure.min)}–${format(figure.max)}] ${figure.unit}${ratio}`);
    }
  }
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
