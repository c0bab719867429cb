import { join } from 'node:path';
import { launchServer, startInTempDir, type LaunchedServer } from './prometheus';
import { startReceiver, type Receiver } from './receiver';

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

/** A real Alertmanager whose one route posts to a webhook receiver, for a test file or block. */
export interface AlertmanagerWithHook {
  /** The Alertmanager, started before the tests. */
  readonly alertmanager: AlertmanagerProcess;
  /** The receiver of its notifications (at `/alertmanager-hook`). */
  readonly hook: Receiver;
  /** The alerts Alertmanager holds for `service` now. */
  alertsOf(service: string): Promise<GettableAlert[]>;
  /** The notifications the receiver got for `service`'s group, in order. */
  notificationsOf(service: string): AlertmanagerNotification[];
}

/**
 * Starts an Alertmanager routing to a fresh webhook receiver before the tests of the file (or
 * describe block) it is called in, and stops both after them. Read its fields inside tests.
 */
export function useAlertmanagerWithHook(): AlertmanagerWithHook {
  let alertmanager: AlertmanagerProcess | undefined;
  let hook: Receiver | undefined;
  beforeAll(async () => {
    hook = await startReceiver('/alertmanager-hook');
    alertmanager = await startAlertmanager(webhookRouteConfig(hook.url));
  }, 30_000);
  afterAll(async () => {
    await alertmanager?.stop();
    await hook?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useAlertmanagerWithHook(): read its fields inside a test, after beforeAll');
    return value;
  };
  return {
    get alertmanager() {
      return started(alertmanager);
    },
    get hook() {
      return started(hook);
    },
    async alertsOf(service) {
      return (await started(alertmanager).alerts()).filter((alert) => alert.labels.service === service);
    },
    notificationsOf(service) {
      return started(hook)
        .received.map((request) => request.body as AlertmanagerNotification)
        .filter((body) => body.groupLabels.service === service);
    },
  };
}
