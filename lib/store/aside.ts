import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** `.corrupt-` files kept per file, the newest: enough to investigate, bounded on a disk that keeps corrupting. */
const KEEP_ASIDE = 5;

/** A free name to set `path` aside as, `<path>.corrupt-<time>`, then `-2`, `-3` … within a millisecond. */
export function asideName(path: string, wallNow: number): string {
  const base = `${path}.corrupt-${new Date(wallNow).toISOString().replace(/:/g, '-')}`;
  let name = base;
  for (let n = 2; existsSync(name); n++) name = `${base}-${n}`;
  return name;
}

/** Removes all but the newest {@link KEEP_ASIDE} `.corrupt-` files of `path`. */
export function pruneAside(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.corrupt-`;
  try {
    // By time, then by the -2, -3 … of files set aside in the same millisecond.
    const byAge = new Map<string, string>();
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      const key = name.slice(prefix.length).replace(/Z(?:-(\d+))?$/, (_, n: string | undefined) => `Z-${(n ?? '1').padStart(10, '0')}`);
      byAge.set(key, name);
    }
    const aside = [...byAge.keys()].sort().map((key) => byAge.get(key) as string);
    for (const name of aside.slice(0, -KEEP_ASIDE)) unlinkSync(join(dir, name));
  } catch {
    // Left for the next file set aside: they take space, nothing more.
  }
}
