import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter, type Heartbeat, type StatusChange } from '../../lib';
import type { Clock } from '../../lib/util/clock';

/** Names that test wrapping: separators to wrap at, one part too long for any card, and HTML that must stay text. */
export const LONG_NAMES = {
  underscores: 'payment_reconciliation_nightly_export_worker',
  dotted: 'eu-west-1.thumbnail-renderer.queue-consumer.v2',
  unbroken: 'averyveryverylongservicenamewithoutanyseparatorsatall',
  hostile: '<img src=x onerror=alert(1)>',
} as const;

/**
 * How long file_indexer's scripted outage lasted, on the injected clock. Short of the monitor's
 * next timer (its periodic work runs within a minute): that timer is real, and a clock moved
 * past it by hand does not make it fire early, so a pulse after a longer jump would wait for it.
 */
export const OUTAGE_MS = 30_000;

/**
 * A clock the test moves: the real clocks plus a skew, so the server's timers keep running (the
 * stream batches pulses on them) while `advance()` makes minutes pass at once in every time the
 * monitor reads and shows. Both clocks move together, so no wall-clock step is seen.
 */
export interface SkewClock extends Clock {
  advance(ms: number): void;
}

function skewClock(): SkewClock {
  const skew = { ms: 0 };
  return {
    now: () => performance.now() + skew.ms,
    wallNow: () => Date.now() + skew.ms,
    advance: (ms) => {
      skew.ms += ms;
    },
  };
}

/** A page of every kind of card, served on a loopback port. */
export interface StatusPageFixture {
  url: string;
  manager: HeartbeatManager;
  clock: SkewClock;
  /** The outage, ISO start and end, as file_indexer's history has it. */
  outage: { start: string; end: string };
  /** save_worker's ongoing outage start. */
  ongoingSince: string;
  /** Each service's started heartbeat, by name. */
  beat(tag: string): Heartbeat;
  close(): Promise<void>;
}

/** Resolves with the manager's next change of `tag` to `to`. */
export const changeTo = (manager: HeartbeatManager, tag: string, to: string): Promise<StatusChange> =>
  new Promise((resolve) => {
    const listener = (change: StatusChange) => {
      if (change.service !== tag || change.to !== to) return;
      manager.off('status', listener);
      resolve(change);
    };
    manager.on('status', listener);
  });

/**
 * A realistic set of services, in two groups and ungrouped: healthy, warning, critical (an
 * ongoing outage), one that was critical for {@link OUTAGE_MS} and recovered, a paused one, a
 * running job, and the {@link LONG_NAMES}. Intervals of an hour: no status here comes from a
 * missed beat, so a loaded machine changes none of it.
 */
export async function startStatusPageFixture(): Promise<StatusPageFixture> {
  const clock = skewClock();
  const hour = 3600;
  const manager = new HeartbeatManager({
    clock,
    config: {
      log_level: 'silent',
      services: {
        save_worker: { interval: hour, group: 'Workers' },
        file_indexer: { interval: hour, critical: false, group: 'Workers' },
        [LONG_NAMES.underscores]: { interval: hour, group: 'Workers' },
        router_tasks: { interval: hour, critical: false, max_runtime: 3000, group: 'Jobs' },
        nightly_backup: { interval: hour, critical: false, group: 'Jobs' },
        web_listener: { interval: hour, critical: false },
        [LONG_NAMES.dotted]: { interval: hour, critical: false },
        [LONG_NAMES.unbroken]: { interval: hour, critical: false },
        [LONG_NAMES.hostile]: { interval: hour, critical: false },
      },
    },
  });
  const started = Object.fromEntries(Object.keys(manager.config.services).map((tag) => [tag, manager.heartbeat({ tag }).start()]));
  const beat = (tag: string) => {
    const heartbeat = started[tag];
    if (!heartbeat) throw new Error(`no heartbeat ${tag}`);
    return heartbeat;
  };

  // file_indexer: critical for three minutes, then back.
  const down = changeTo(manager, 'file_indexer', 'critical');
  beat('file_indexer').error('disk full', { critical: true });
  const start = (await down).time;
  clock.advance(OUTAGE_MS);
  const up = changeTo(manager, 'file_indexer', 'healthy');
  beat('file_indexer').pulse();
  const end = (await up).time;

  const warned = changeTo(manager, 'web_listener', 'warning');
  beat('web_listener').error('slow responses');
  await warned;
  beat('router_tasks').begin();
  manager.pause('nightly_backup', { until: clock.wallNow() + 2 * 3_600_000, reason: 'disk swap' });
  const critical = changeTo(manager, 'save_worker', 'critical');
  beat('save_worker').error('volume offline', { critical: true });
  const ongoingSince = (await critical).time;

  const app = express().use(healthRouter({ manager, registry: new Registry() }));
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${String(port)}/api/health/ui`,
    manager,
    clock,
    outage: { start, end },
    ongoingSince,
    beat,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await manager.close();
    },
  };
}
