import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus';

/** A real `redis-server` (Debian's package, installed by `npm test`) on a loopback port, keeping nothing on disk. */
export interface RedisServer {
  /** e.g. redis://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  /** The server's output so far, for failure messages. */
  log(): string;
  /** SIGTERM (SIGKILL after a grace), then removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, at once: a crash, as far as the clients can tell. */
  kill(): void;
  /** Stops it (if running) and starts it again on the same port, empty; resolves once it answers PING. Works after stop() too. */
  restart(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RedisServerOptions {
  /** Clients must AUTH with it (`--requirepass`); the url then carries it. */
  readonly password?: string;
  /** How long to wait for the first PONG. Defaults to 10 s. */
  readonly timeoutMs?: number;
}

/**
 * Starts `redis-server` on a free loopback port with persistence off (`--save ''`,
 * `--appendonly no`) in a temp directory; resolves once it answers PING. A port taken in
 * between is retried with another.
 */
export async function startRedis({ password, timeoutMs = 10_000 }: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-redis-'));
  let log = '';
  let child: ChildProcess | undefined;
  let port = 0;

  const exited = (process: ChildProcess) => process.exitCode !== null || process.signalCode !== null;

  const launch = async (): Promise<'ready' | 'port taken'> => {
    mkdirSync(dir, { recursive: true }); // stop() removed it
    const started = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...(password === undefined ? [] : ['--requirepass', password]),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    const collect = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.length > 100_000) log = log.slice(-50_000);
    };
    started.stdout.on('data', collect);
    started.stderr.on('data', collect);
    let spawnError: Error | undefined;
    started.once('error', (error) => (spawnError = error));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) {
        throw new Error(
          `redis-server could not run (${spawnError.message}); npm test installs Debian's redis-server package through scripts/ensure-system-deps.js.`,
        );
      }
      if (exited(started)) {
        if (/address already in use/i.test(log)) return 'port taken';
        throw new Error(`redis-server exited with ${started.exitCode ?? started.signalCode} before it was ready:\n${log}`);
      }
      if (await answersPing(port, password)) return 'ready';
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`redis-server did not answer PING within ${timeoutMs} ms:\n${log}`);
      }
      await sleep(50);
    }
  };

  const halt = async (graceMs = 5000): Promise<void> => {
    const running = child;
    if (!running || exited(running)) return;
    const gone = new Promise<void>((resolve) =>
      running.once('exit', () => {
        resolve();
      }),
    );
    running.kill('SIGTERM');
    const killer = setTimeout(() => running.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(killer);
  };

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      if ((await launch()) === 'ready') break;
      if (attempt === 3) throw new Error('redis-server found its port taken three times in a row');
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `redis://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`,
    port,
    log: () => log,
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => {
      if (child && !exited(child)) child.kill('SIGKILL');
    },
    restart: async () => {
      await halt();
      // The same port, so clients reconnect to it: a client's socket in TIME_WAIT does not
      // hold the listening port, so the bind succeeds; retried a few times in case it races.
      for (let attempt = 1; ; attempt++) {
        if ((await launch()) === 'ready') return;
        if (attempt === 5) throw new Error(`redis-server could not get port ${port} back:\n${log}`);
        await sleep(200);
      }
    },
  };
}

/** Whether a server on `port` answers PING with +PONG (after AUTH, with a password), within a second. */
function answersPing(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      done(false);
    }, 1000);
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write(password === undefined ? 'PING\r\n' : `AUTH ${password}\r\nPING\r\n`));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes('+PONG\r\n')) done(true);
      else if (answer.includes('-')) done(false);
    });
  });
}
