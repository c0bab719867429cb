// The demo bridge server: an Express bridge like the seed's, with a web listener beside it and
// three simulated background workers, all watched by one heartbeat manager.
//
//   npm start                                        the seed's intervals (15–60 s)
//   HEARTBEAT_CONFIG=demo-app/fast-config.json npm start   seconds, to watch services fail and recover
//
// Environment: PORT (bridge, default 5001), WEB_PORT (web listener, default 5000),
// HOST (default 127.0.0.1), HEARTBEAT_CONFIG (path of a JSON config; default the seed's config),
// ALERT_WEBHOOK_URL (alerts are POSTed there), NTFY_URL (a full ntfy topic URL such as
// https://ntfy.sh/my-topic: alerts are pushed to phones; NTFY_TOKEN for a protected topic; both
// secrets, never logged), ALERTMANAGER_URL (an Alertmanager's base URL such as
// http://localhost:9093: alerts go to its /api/v2/alerts, linking to the bridge's status page;
// never logged), HEARTBEAT_TOKEN (turns remote pulses on),
// HEARTBEAT_STATE_DIR (where the history, counters and remote services are kept across
// restarts; default ./.heartbeat, relative to the working directory; one demo per directory),
// HEARTBEAT_REDIS_URL (run as one of several replicas: the remote services are shared through
// that Redis instead, see docs/replicas.md; the state directory is then not used),
// SHUTDOWN_DELAY_MS (how long /ready answers 503 draining after SIGTERM before the listeners close; default 2000).
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import express from 'express';
import type { Logger } from 'pino';
import {
  AlertDispatcher,
  alertmanagerNotifier,
  CONFIG_ENV,
  DirectoryInUseError,
  HeartbeatManager,
  fileStore,
  healthRouter,
  pulseMiddleware,
  ntfyNotifier,
  readConfigFile,
  redisStore,
  type AlertTarget,
  type HeartbeatStore,
} from '../lib';
import { demoControls } from './controls';
import { demoLogger, requestLogger } from './logging';
import { SEED_CONFIG } from './seed-config';
import { SimulatedWorker } from './workers';

const SELF_PING_HEADER = 'x-demo-self-ping';
/** Longest wait a Node timer takes (about 24.8 days); past it, timers fire after 1 ms. */
const MAX_PING_EVERY_MS = 2 ** 31 - 1;
/** The environment variable naming the demo's state directory. */
const STATE_DIR_ENV = 'HEARTBEAT_STATE_DIR';
/** The state directory when HEARTBEAT_STATE_DIR is unset: beside wherever `npm start` runs, and gitignored. */
const DEFAULT_STATE_DIR = '.heartbeat';
/** The environment variable naming the Redis that replicas of the demo share. */
const REDIS_URL_ENV = 'HEARTBEAT_REDIS_URL';
/** The environment variable of the drain's length: how long /ready says draining before the listeners close. */
const SHUTDOWN_DELAY_ENV = 'SHUTDOWN_DELAY_MS';
/** A couple of readiness probe periods of a load balancer polling every second. */
const DEFAULT_SHUTDOWN_DELAY_MS = 2000;
/** The longest drain taken, a minute: a typo must not hold a stopping process for hours (Kubernetes' default grace is 30 s). */
const MAX_SHUTDOWN_DELAY_MS = 60_000;

export interface Demo {
  manager: HeartbeatManager;
  bridgeUrl: string;
  webUrl: string;
  /** Turns /ready into 503 draining, so load balancers stop sending before close(). */
  drain(): void;
  close(): Promise<void>;
}

export async function startDemo(env: NodeJS.ProcessEnv = process.env, logger: Logger = demoLogger('demo')): Promise<Demo> {
  const host = env.HOST || '127.0.0.1';
  const bridgePort = portFrom(env, 'PORT', 5001);
  const webPort = portFrom(env, 'WEB_PORT', 5000);
  const configPath = env[CONFIG_ENV];
  const config = configPath ? readConfigFile(configPath, CONFIG_ENV) : SEED_CONFIG;
  const manager = new HeartbeatManager({
    config: env.HEARTBEAT_TOKEN ? { ...config, remote_token: env.HEARTBEAT_TOKEN } : config,
    logger: demoLogger('smrthub.heartbeat'),
    store: await demoStore(env, logger),
  });
  // The bridge's status page, for Alertmanager's links: known before it listens, unless its port is picked then (0).
  const pageHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const pageUrl = bridgePort === 0 ? undefined : `http://${pageHost}:${bridgePort}/api/health/ui`;
  const alertTargets = demoAlertTargets(env, pageUrl);
  if (alertTargets.length > 0) new AlertDispatcher(manager, { targets: alertTargets });

  const workers = new Map<string, SimulatedWorker>();
  for (const tag of ['save_worker', 'file_indexer', 'router_tasks']) {
    const heartbeat = manager.heartbeat({ tag });
    // router_tasks runs as a job: each round is a run of a tenth of its interval, so its
    // duration shows, and its config's max_runtime catches a run that hangs (the stall control).
    const worker = new SimulatedWorker(heartbeat, tag === 'router_tasks' ? { runSeconds: heartbeat.interval / 10 } : {});
    workers.set(tag, worker);
    worker.start();
  }
  const bridgeHeartbeat = manager.heartbeat({ tag: 'flask_bridge' }).start();
  const webHeartbeat = manager.heartbeat({ tag: 'web_listener' }).start();

  const requestLog = requestLogger(logger.child({ component: 'http' }), (req) => req.headers[SELF_PING_HEADER] === '1');

  // The bridge (the seed's C#/Python bridge on 5001): one pulse per request, then the health API.
  const bridge = express();
  bridge.use(requestLog);
  bridge.use(pulseMiddleware(bridgeHeartbeat));
  const health = healthRouter({ manager });
  bridge.use(health);
  bridge.use(demoControls(manager, workers));
  // The demo's front door is the live status page.
  bridge.get('/', (_req, res) => {
    res.redirect(302, '/api/health/ui');
  });

  // The web listener (the seed's browser-extension listener on 5000).
  const web = express();
  web.use(requestLog);
  web.use(pulseMiddleware(webHeartbeat));
  web.get('/', (_req, res) => {
    res.json({ service: 'web listener' });
  });

  /** Writes the final snapshot at once; the promise settles once the state directory is let go. */
  const stopWatching = (): Promise<void> => {
    for (const worker of workers.values()) worker.stop();
    return manager.close();
  };
  let bridgeServer: Server;
  let webServer: Server;
  try {
    bridgeServer = await listen(bridge, bridgePort, host, 'PORT');
    webServer = await listen(web, webPort, host, 'WEB_PORT').catch(async (error: unknown) => {
      await closeServer(bridgeServer);
      throw error;
    });
  } catch (error) {
    // A port in use must not leave the workers running and the state directory held.
    await stopWatching();
    throw error;
  }
  // The stream's events over a WebSocket too, at /api/health/ws: .NET's ClientWebSocket reads it.
  health.attachWebSocket(bridgeServer);
  const bridgeUrl = urlOf(bridgeServer, host);
  const webUrl = urlOf(webServer, host);

  // A dependency check: the bridge relies on its web listener answering over HTTP. The config
  // says it depends_on web_listener, so while the listener itself is down only the listener alerts.
  manager.check(
    'web_listener_check',
    async (signal) => {
      const response = await fetch(`${webUrl}/`, { headers: { [SELF_PING_HEADER]: '1' }, signal });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the web listener answered HTTP ${response.status}`);
    },
    { interval: webHeartbeat.interval, timeout: Math.min(2000, webHeartbeat.interval * 500), critical: false },
  );
  logger.info({ url: bridgeUrl }, `Bridge server listening: ${bridgeUrl}/ (status page), ${bridgeUrl}/api/health/status`);
  logger.info({ url: webUrl }, `Web listener listening: ${webUrl}/`);

  // Request-driven heartbeats go quiet when nobody calls. The demo calls itself twice per
  // interval over real HTTP, so an idle server stays green and a hung one does not.
  // Whole milliseconds (AbortSignal.timeout throws on fractions) within Node's longest timer.
  const pingEvery = Math.min(
    MAX_PING_EVERY_MS,
    Math.max(1, Math.round((Math.min(bridgeHeartbeat.interval, webHeartbeat.interval) * 1000) / 2)),
  );
  const selfPing = setInterval(() => {
    for (const url of [`${bridgeUrl}/api/health/live`, `${webUrl}/`]) {
      fetch(url, { headers: { [SELF_PING_HEADER]: '1' }, signal: AbortSignal.timeout(pingEvery) }).then(
        (response) => response.body?.cancel(),
        () => undefined, // a failed ping is what the heartbeat is there to notice
      );
    }
  }, pingEvery);
  selfPing.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(selfPing);
      await Promise.all([stopWatching(), closeServer(bridgeServer), closeServer(webServer)]);
    })();
    return closing;
  };
  const drain = (): void => {
    health.drain();
  };
  return { manager, bridgeUrl, webUrl, drain, close };
}

/**
 * Where the demo keeps its state. The library writes nothing unless given a store; the demo
 * keeps its state so a restart shows the history it had: in a directory (DirectoryInUseError if
 * another demo holds it), or, as one of several replicas, in the Redis they share. The Redis URL
 * may hold a password, so it is never logged.
 */
async function demoStore(env: NodeJS.ProcessEnv, logger: Logger): Promise<HeartbeatStore> {
  const redisUrl = env[REDIS_URL_ENV];
  if (redisUrl) {
    const store = await redisStore({ url: redisUrl });
    logger.info(`Remote services shared with the other replicas through Redis (${REDIS_URL_ENV}); in-process ones stay with this process`);
    return store;
  }
  const stateDir = resolve(env[STATE_DIR_ENV] || DEFAULT_STATE_DIR);
  const store = fileStore({ dir: stateDir });
  logger.info({ state_dir: stateDir }, `State kept in ${stateDir} (${STATE_DIR_ENV})`);
  return store;
}

/** Where the demo's alerts go, from the environment. The URLs and the token are secrets: never logged. */
function demoAlertTargets(env: NodeJS.ProcessEnv, pageUrl: string | undefined): AlertTarget[] {
  const targets: AlertTarget[] = [];
  if (env.ALERT_WEBHOOK_URL) targets.push({ url: env.ALERT_WEBHOOK_URL, name: 'demo-webhook' });
  if (env.NTFY_URL) targets.push({ notifier: ntfyNotifier({ url: env.NTFY_URL, token: env.NTFY_TOKEN || undefined }) });
  if (env.ALERTMANAGER_URL)
    targets.push({ notifier: alertmanagerNotifier({ url: env.ALERTMANAGER_URL, ...(pageUrl ? { pageUrl } : {}) }) });
  return targets;
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} is ${JSON.stringify(raw)}; expected a port number from 0 to 65535 (0 picks a free one).`);
  }
  return port;
}

/** SHUTDOWN_DELAY_MS: whole milliseconds from 0 (no drain) to a minute, checked at start, not at the first SIGTERM. */
function delayFrom(env: NodeJS.ProcessEnv): number {
  const raw = env[SHUTDOWN_DELAY_ENV];
  if (raw === undefined || raw === '') return DEFAULT_SHUTDOWN_DELAY_MS;
  const delay = Number(raw);
  if (!/^[0-9]+$/.test(raw) || delay > MAX_SHUTDOWN_DELAY_MS) {
    throw new Error(
      `${SHUTDOWN_DELAY_ENV} is ${JSON.stringify(raw)}; expected whole milliseconds from 0 to ${MAX_SHUTDOWN_DELAY_MS}, e.g. ${DEFAULT_SHUTDOWN_DELAY_MS}.`,
    );
  }
  return delay;
}

function listen(app: express.Express, port: number, host: string, variable: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => {
      resolve(server);
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(`Cannot listen on ${host}:${port} (${error.code ?? error.message}); set ${variable} to a free port.`));
    });
  });
}

function urlOf(server: Server, host: string): string {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Stops accepting, lets in-flight requests finish, and cuts keep-alive sockets that linger. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
    }, 1000).unref();
  });
}

// `npm start` runs `exec node …`: npm forwards SIGTERM and SIGINT to its child, and with exec that
// child is this process. Without it the child is a shell, which dies and leaves the server running.
async function main(): Promise<void> {
  const logger = demoLogger('demo');
  const shutdownDelayMs = delayFrom(process.env);
  // The handlers go in before the demo starts: the "listening" lines tell a supervisor it may
  // signal, and a SIGTERM with no handler yet would kill the process outright. One that comes
  // while the demo starts is acted on once it has.
  let demo: Demo | undefined = undefined;
  let signalledEarly: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (demo) stop(demo, signal);
    else signalledEarly ??= signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let stopping = false;
  /** The end of a SIGTERM's drain, while it is still ahead. */
  let drainEnd: NodeJS.Timeout | undefined;
  const shutDown = (demo: Demo, signal: NodeJS.Signals): void => {
    drainEnd = undefined;
    // Gone 1.5 s after the close begins whatever happens: a stuck socket must not hold the process.
    setTimeout(() => process.exit(0), 1500).unref();
    logger.info({ signal }, 'Shutting down');
    demo.close().then(
      () => {
        logger.info('Stopped');
      },
      (error: unknown) => {
        logger.error({ err: error }, 'Shutdown failed');
      },
    );
  };
  const stop = (demo: Demo, signal: NodeJS.Signals): void => {
    if (stopping) {
      // Ctrl-C during a SIGTERM's drain cuts it short. Otherwise a repeated signal changes
      // nothing: Ctrl-C on a terminal reaches this process twice, from the terminal and
      // forwarded by npm.
      if (signal === 'SIGINT' && drainEnd) {
        clearTimeout(drainEnd);
        shutDown(demo, signal);
      }
      return;
    }
    stopping = true;
    // SIGTERM is how an orchestrator stops a replica: /ready says draining first, so the load
    // balancer stops sending while the listeners still answer. Ctrl-C (SIGINT) stops at once.
    const delay = signal === 'SIGTERM' ? shutdownDelayMs : 0;
    demo.drain();
    if (delay === 0) {
      shutDown(demo, signal);
      return;
    }
    logger.info({ signal, delay_ms: delay }, `Draining: /ready answers 503 for ${delay} ms before the listeners close`);
    drainEnd = setTimeout(() => {
      shutDown(demo, signal);
    }, delay);
  };
  demo = await startDemo(process.env, logger);
  if (signalledEarly) stop(demo, signalledEarly);
}

/** The one line a failed start prints: what went wrong and what to do, without a stack trace. */
function startFailure(error: unknown): string {
  if (error instanceof DirectoryInUseError) {
    // The library's message names the directory and the PID; the demo adds how to pick another one.
    return (
      `Cannot start the demo: ${error.message}. The demo keeps its state in ${STATE_DIR_ENV} ` +
      `(default ./${DEFAULT_STATE_DIR}): to run a second demo, set it to another directory.`
    );
  }
  return error instanceof Error ? error.message : String(error);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(startFailure(error));
    process.exit(1);
  });
}
