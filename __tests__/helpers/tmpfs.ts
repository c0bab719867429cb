import { execFileSync } from 'node:child_process';

/*
 * Real storage faults for the state directory tests: a tmpfs of a few KB fills up as a disk
 * does, and one mounted or remounted read-only fails writes with EROFS. Mounting needs root (or
 * CAP_SYS_ADMIN), as in CI; elsewhere the tests fail and say so, rather than skip.
 */

function run(args: string[]): void {
  try {
    execFileSync(args[0] as string, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${args.join(' ')} failed (${stderr ?? String(error)}); these tests mount a tmpfs and need root or CAP_SYS_ADMIN`, {
      cause: error,
    });
  }
}

/** Mounts a tmpfs of `kilobytes` on the existing directory `dir`. */
export function mountTmpfs(dir: string, kilobytes: number): void {
  run(['mount', '-t', 'tmpfs', '-o', `size=${kilobytes}k,mode=0755`, 'tmpfs', dir]);
}

/** Makes the tmpfs on `dir` read-only or writable again. Read-only fails while a file there is open for writing. */
export function remount(dir: string, mode: 'ro' | 'rw'): void {
  run(['mount', '-o', `remount,${mode}`, dir]);
}

/** Unmounts `dir`, lazily if something still has a file open there. */
export function unmount(dir: string): void {
  try {
    run(['umount', dir]);
  } catch {
    run(['umount', '-l', dir]);
  }
}
