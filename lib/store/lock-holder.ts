import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { codeOf } from './fs-errors';

/*
 * Who holds a lock, and whether it still runs. A PID means something only in the PID namespace
 * it came from: two containers sharing a volume are both PID 1, and a process of another host or
 * container cannot be asked. So the lock records the hostname and the PID namespace, and a holder
 * from elsewhere is never judged (the refusal names the lock file to delete if it is gone). It
 * also records the holder's start time, so a PID reused by another process reads as gone.
 */

/** What a lock file records of its holder; the optional fields are missing where the OS has no /proc. */
export interface Holder {
  readonly pid: number;
  readonly hostname?: string;
  readonly boot_id?: string;
  readonly pid_ns?: string;
  readonly start_time?: string;
}

export type Verdict = 'running' | 'gone' | 'elsewhere';

/** This process, as its lock records it. */
export function thisProcess(): Holder {
  return {
    pid: process.pid,
    hostname: hostname(),
    boot_id: bootId(),
    pid_ns: pidNamespace(),
    start_time: startTimeOf(process.pid),
  };
}

/** The holder a lock file names; undefined when it is not a lock this code wrote (garbage, or empty after a power loss). */
export function holderOf(text: string): Holder | undefined {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = (JSON.parse(text) as typeof parsed | null) ?? {};
  } catch {
    // nobody holds it
  }
  const { pid } = parsed;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const field = (key: string): string | undefined => {
    const value = parsed[key];
    return typeof value === 'string' ? value : undefined;
  };
  return { pid, hostname: field('hostname'), boot_id: field('boot_id'), pid_ns: field('pid_ns'), start_time: field('start_time') };
}

/** Whether `holder` still runs, is gone, or runs where this process cannot tell (another host or PID namespace). */
export function judge(holder: Holder): Verdict {
  const here = thisProcess();
  const differs = (key: keyof Holder): boolean => holder[key] !== undefined && here[key] !== undefined && holder[key] !== here[key];
  if (differs('hostname')) return 'elsewhere';
  if (differs('boot_id')) return 'gone'; // this host rebooted since
  if (differs('pid_ns')) return 'elsewhere';
  if (holder.pid === process.pid) return 'gone'; // not held here (checked first): an earlier process with this PID
  if (holder.start_time !== undefined && here.start_time !== undefined) {
    const started = startTimeOf(holder.pid);
    if (started !== holder.start_time) return 'gone'; // no such process, or the PID was reused
  }
  return exists(holder.pid) ? 'running' : 'gone';
}

/** Whether a process `pid` runs (in this PID namespace). */
export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return codeOf(error) !== 'ESRCH';
  }
}

let cachedBootId: string | null | undefined;

/** The kernel's id of the current boot (Linux), or undefined elsewhere. */
function bootId(): string | undefined {
  if (cachedBootId === undefined) cachedBootId = readProc(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()) ?? null;
  return cachedBootId ?? undefined;
}

function pidNamespace(): string | undefined {
  return readProc(() => readlinkSync('/proc/self/ns/pid'));
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTimeOf(pid: number): string | undefined {
  return readProc(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command, is in parentheses and may hold spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  });
}

function readProc(read: () => string | undefined): string | undefined {
  try {
    return read();
  } catch {
    return undefined; // not Linux, or no such process
  }
}
