import { join } from 'node:path';
import { launchServer, startInTempDir, type LaunchedServer } from './prometheus';

/** A real `prometheus-alertmanager` (Debian's package, installed by `npm test`) on a loopback port, clustering off. */
export interface AlertmanagerProcess extends LaunchedServer {
  /** Where the config and the storage live; removed by stop(). */
  dir: string;
  /** The alerts Alertmanager holds as active, silenced or inhibited now: `GET /api/v2/alerts`. */
  alerts(): Promise<GettableAlert[]>;
}

/** One alert of `GET /api/v2/alerts`, as far as the tests read it. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  status: { state: 'unprocessed' | 'active' | 'suppressed'; silencedBy: string[]; inhibitedBy: string[] };
}

/** One webhook notification Alertmanager sends to a receiver (version 4 of its payload). */
export interface AlertmanagerNotification {
  status: 'firing' | 'resolved';
  receiver: string;
  alerts: Array<{ status: 'firing' | 'resolved'; labels: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string }>;
  groupLabels: Record<string, string>;
}

/**
 * An Alertmanager config that sends every alert to the webhook at `receiverUrl` at once
 * (`group_wait: 0s`), with its resolution (`send_resolved`), grouping a service's alerts and
 * flushing changes every `groupInterval` (a short one, so a test waits a fraction of a second).
 */
export function webhookRouteConfig(receiverUrl: string, groupInterval = '200ms'): string {
  return `route:
  receiver: test-hook
  group_by: [alertname, service, instance]
  group_wait: 0s
  group_interval: ${groupInterval}
  repeat_interval: 1h
receivers:
  - name: test-hook
    webhook_configs:
      - url: ${JSON.stringify(receiverUrl)}
        send_resolved: true
`;
}

/**
 * Writes `config` (alertmanager.yml) into a temp dir and starts `prometheus-alertmanager` on a
 * free loopback port, its storage in that dir, clustering off (`--cluster.listen-address=`);
 * resolves once /-/ready answers 200.
 */
export function startAlertmanager(config: string, timeoutMs = 20_000): Promise<AlertmanagerProcess> {
  return startInTempDir('alertmanager', { 'alertmanager.yml': config }, async (dir, port) => {
    const started = await launchServer({
      program: 'prometheus-alertmanager',
      args: [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      dir,
      port,
      timeoutMs,
      missing: "npm test installs Debian's prometheus-alertmanager package through scripts/ensure-system-deps.js.",
    });
    if (started === 'port taken') return started;
    return {
      ...started,
      dir,
      alerts: async () => {
        const response = await fetch(`${started.url}/api/v2/alerts`);
        if (!response.ok) throw new Error(`GET /api/v2/alerts: HTTP ${response.status}: ${await response.text()}`);
        return (await response.json()) as GettableAlert[];
      },
    };
  });
}
