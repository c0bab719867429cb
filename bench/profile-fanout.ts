// The fan-out's profile (npm run profile): the stream server of bench/streams.ts in the profiled
// process, its 1,000 SSE clients in a process of their own (bench/streams.ts's viewers child),
// so that the profile holds the server's work alone.
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStreamServer } from './streams';

export const FAN_OUT = {
  services: 1000,
  clients: 1000,
  /** Services that stop pulsing each second; each resumes one second later (the next second's `changeStatuses()`). */
  stopsPerSecond: 5,
  /** Seconds between the markers, each with its stops: the process is idle most of the time, and the rest needs 2,000 samples or more. */
  seconds: 12,
};

/** The profile's markers around the measured part: see bench/profile.ts. */
export interface ProfileWindow {
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Resolves when `child` says its viewers are connected. */
function connected(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null): void => {
      reject(new Error(`The viewers' process exited with ${String(code)} before connecting`));
    };
    child.once('exit', exited);
    child.once('message', () => {
      child.off('exit', exited);
      resolve();
    });
  });
}

/**
 * Starts the stream server with its services pulsing every second, connects the clients from
 * another process, then, between the markers, stops some services each second (they turn
 * `warning` at their deadline, `healthy` again when they resume). Says what went out.
 */
export async function profileFanOut(window: ProfileWindow): Promise<string> {
  const server = await startStreamServer(FAN_OUT.services, FAN_OUT.clients);
  // streams.ts's forkViewers() without its execArgv: the child would inherit --cpu-prof and the
  // profile's file name, and write its own profile over this one.
  const viewers = fork(require.resolve('./streams'), ['viewers', String(server.port), 'sse', String(FAN_OUT.clients)], { execArgv: [] });
  try {
    await connected(viewers);
    await sleep(1000); // past the snapshots and the first pulse batch of every client
    let changes = 0;
    const counted = (): void => {
      changes++;
    };
    server.manager.on('status', counted);
    await window.open();
    const started = performance.now();
    for (let second = 0; second < FAN_OUT.seconds; second++) {
      server.changeStatuses(FAN_OUT.stopsPerSecond);
      await sleep(1000);
    }
    const seconds = (performance.now() - started) / 1000;
    await window.close();
    server.manager.off('status', counted);
    const open = await server.connections();
    if (open < FAN_OUT.clients) throw new Error(`Only ${open} of ${FAN_OUT.clients} clients were still connected at the end`);
    if (changes === 0) throw new Error('No status changed in the window');
    return `${changes} status changes and ${seconds.toFixed(1)} s of pulse batches, each to ${open.toLocaleString('en-US')} open streams`;
  } finally {
    if (viewers.exitCode === null && viewers.signalCode === null) {
      const exited = new Promise((resolve) => viewers.once('exit', resolve));
      if (viewers.connected) viewers.send('close');
      else viewers.kill();
      await exited;
    }
    await server.close();
  }
}
