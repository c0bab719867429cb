// npm run bench [-- --quick] [-- NAME …]: runs the benchmarks, prints their figures and, when
// all of them ran, writes BENCHMARKS.md at the repository root.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { benchAlerts } from './alerts';
import { benchDetection } from './detection';
import { benchExport } from './export';
import { benchIdle } from './idle';
import type { Figure } from './measure';
import { benchMemory } from './memory';
import { benchPredict } from './predict';
import { benchPulse } from './pulse';
import { formatLine, renderReport, type Section } from './report';
import { benchReplicas } from './replicas';
import { benchRequestOverhead } from './request-overhead';
import { benchScale } from './scale';
import { benchStore } from './store';
import { benchStreams } from './streams';
import { benchThroughput } from './throughput';

interface Benchmark {
  title: string;
  run: (quick: boolean) => Promise<Figure[]>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  pulse: { title: '1. pulse()', run: benchPulse },
  'request-overhead': { title: '2. Per-request overhead', run: benchRequestOverhead },
  scale: { title: '3. Scrape and status at scale', run: benchScale },
  idle: { title: '4. Idle cost', run: benchIdle },
  memory: { title: '5. Memory', run: benchMemory },
  detection: { title: '6. Detection latency', run: benchDetection },
  throughput: { title: '7. Throughput under load', run: benchThroughput },
  alerts: { title: '8. Mass outage with alerts', run: benchAlerts },
  export: { title: '9. Export of a large history', run: benchExport },
  store: { title: '10. File store', run: benchStore },
  replicas: { title: '11. Replicas sharing remote pulses through Redis', run: benchReplicas },
  predict: { title: '12. Predictive health', run: benchPredict },
  streams: { title: '13. Streams to 1,000 viewers', run: benchStreams },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const chosen = args.filter((arg) => !arg.startsWith('--'));
  for (const name of chosen) {
    if (!BENCHMARKS[name]) throw new Error(`Unknown benchmark "${name}"; choose from ${Object.keys(BENCHMARKS).join(', ')}.`);
  }
  const cpu = cpus();
  const machine = {
    cpu: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    node: process.version,
    loadBefore: loadavg()[0] as number,
  };
  const started = Date.now();
  console.log(`# ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}${quick ? ', quick' : ''}`);

  const sections: Section[] = [];
  for (const [name, benchmark] of Object.entries(BENCHMARKS)) {
    if (chosen.length > 0 && !chosen.includes(name)) continue;
    console.log(`\n## ${benchmark.title}`);
    const benchmarkStarted = Date.now();
    const figures = await benchmark.run(quick);
    const section: Section = { name, title: benchmark.title, figures, seconds: (Date.now() - benchmarkStarted) / 1000 };
    for (const figure of figures) console.log(formatLine(figure, figures));
    console.log(`(${section.seconds.toFixed(1)} s)`);
    sections.push(section);
  }

  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${seconds.toFixed(1)} s in all`);
  if (chosen.length > 0) {
    console.log('BENCHMARKS.md is written only by a run of every benchmark.');
    return;
  }
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const report = renderReport(
    {
      command,
      date: new Date(started).toISOString(),
      quick,
      seconds,
      ...machine,
      loadAfter: loadavg()[0] as number,
    },
    sections,
  );
  const path = join(__dirname, '..', '..', 'BENCHMARKS.md');
  writeFileSync(path, report);
  console.log(`Wrote ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
