// Shared measuring helpers: interleaved rounds, medians with spreads, allocation per op.

export interface Figure {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** The figure this one is compared with, measured in the same run. */
  anchor?: string;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/**
 * Runs each configuration once per round, A B C A B C …, after one warm-up round, so drift
 * in the machine's speed lands on every configuration alike.
 */
export async function interleave<K extends string>(
  rounds: number,
  configurations: Record<K, () => number | Promise<number>>,
): Promise<Record<K, Spread>> {
  const names = Object.keys(configurations) as K[];
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = -1; round < rounds; round++) {
    for (const name of names) {
      const value = await configurations[name]();
      if (round >= 0) samples[name].push(value);
    }
  }
  return Object.fromEntries(names.map((name) => [name, spread(samples[name])])) as Record<K, Spread>;
}

const collect = (globalThis as { gc?: () => void }).gc;

/**
 * Heap bytes allocated per operation: `loop(ops)` runs the operation `ops` times in its own
 * monomorphic loop. The figure is the slope of heapUsed between a run of `ops` and one of
 * `4 × ops`, which cancels the fixed cost of measuring. It needs a young generation large
 * enough that no scavenge happens inside a run (`npm run bench` passes
 * `--min-semi-space-size=64 --max-semi-space-size=64`); with Node's small default, scavenges
 * hide allocations and the figure reads 0.
 */
export function allocatedBytesPerOp(loop: (ops: number) => void, ops = 100_000): Spread {
  if (!collect) throw new Error('Run the benchmarks with node --expose-gc (npm run bench does).');
  const heapGrowth = (count: number): number => {
    loop(count);
    (collect as () => void)();
    const before = process.memoryUsage().heapUsed;
    loop(count);
    return process.memoryUsage().heapUsed - before;
  };
  const samples: number[] = [];
  for (let run = 0; run < 7; run++) {
    const small = heapGrowth(ops);
    const large = heapGrowth(4 * ops);
    samples.push(Math.max(0, (large - small) / (3 * ops)));
  }
  return spread(samples);
}
