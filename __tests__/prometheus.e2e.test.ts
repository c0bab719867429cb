// The shipped rules and dashboard queries against the real programs: the demo app (npm start)
// with 0.5 s intervals, scraped every second by a real `prometheus` (Debian's package, installed
// by `npm test`) on a free loopback port, which loads prometheus/alerts.yml and recording.yml.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './helpers/child';
import { fastDemoConfig, pollUntil, startDemoProcess, type DemoProcess } from './helpers/demo';
import { freePort, shortenFor, startPrometheus, type PromAlert, type PrometheusProcess } from './helpers/prometheus';
import { startReceiver, type Receiver } from './helpers/receiver';

const JOB = 'heartbeat-demo'; // matches the rules' job=~".*heartbeat.*" convention for `up`
// The shipped `for:` values suit the seed's 15-60 s intervals. The demo runs at 0.5 s, so the
// copy Prometheus loads has every `for:` divided by 30 (1m → 2s, 30s → 1s); the expressions,
// labels and annotations are the shipped ones, unchanged (checked below).
const FOR_DIVISOR = 30;
const POLL_MS = 200;

let receiver: Receiver | undefined;
let demo: DemoProcess | undefined;
let prometheus: PrometheusProcess | undefined;

afterAll(async () => {
  await Promise.all([prometheus?.stop(), demo?.stop(), receiver?.close()]);
});

/** `Alertname service-or-target state`, sorted: short, and readable in a timeout message. */
function describeAlerts(alerts: PromAlert[]): string[] {
  return alerts
    .map(({ labels, state }) => `${labels.alertname} ${labels.service ?? labels.target ?? labels.instance ?? '-'} ${state}`)
    .sort();
}

it('fires HeartbeatServiceCritical when a demo worker stalls, resolves it on resume, and HeartbeatTargetDown when the demo is gone', async () => {
  const started = Date.now();
  const shipped = readFileSync(join(ROOT, 'prometheus', 'alerts.yml'), 'utf8');
  const fast = shortenFor(shipped, FOR_DIVISOR);
  const withoutFor = (text: string) => JSON.stringify(parse(text), (key: string, value: unknown) => (key === 'for' ? undefined : value));
  expect(withoutFor(fast)).toBe(withoutFor(shipped));

  // The demo's alerts go to a webhook that refuses them (400 is not retried), so its
  // AlertDispatcher counts failures: HeartbeatAlertDeliveryFailing gets real data too.
  receiver = await startReceiver();
  receiver.behave(400);
  // The demo and Prometheus start side by side (Prometheus takes up to 5 s to apply its first
  // targets), so the demo's bridge port is chosen first.
  const instance = `127.0.0.1:${await freePort()}`;
  const [demoStart, prometheusStart] = await Promise.allSettled([
    startDemoProcess(fastDemoConfig(0.5), { PORT: instance.split(':')[1], ALERT_WEBHOOK_URL: receiver.url }),
    startPrometheus({
      'prometheus.yml': [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files: [alerts.yml, recording.yml]',
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: ['${instance}']`,
        '',
      ].join('\n'),
      'alerts.yml': fast,
      'recording.yml': readFileSync(join(ROOT, 'prometheus', 'recording.yml'), 'utf8'),
    }),
  ]);
  if (demoStart.status === 'fulfilled') demo = demoStart.value;
  if (prometheusStart.status === 'fulfilled') prometheus = prometheusStart.value;
  for (const start of [demoStart, prometheusStart]) if (start.status === 'rejected') throw start.reason;
  if (!demo || !prometheus) throw new Error('unreachable');
  expect(new URL(demo.bridgeUrl).host).toBe(instance);
  const prom = prometheus;
  const alerts = async () => describeAlerts(await prom.alerts());
  const poll = (done: (seen: string[]) => boolean, timeoutMs = 15_000) => pollUntil(alerts, done, timeoutMs, POLL_MS);

  // Prometheus loaded every shipped rule and scrapes the demo.
  const groups = await prom.rules();
  const loaded = groups.flatMap((group) => group.rules.filter((rule) => rule.type === 'alerting').map((rule) => rule.name));
  expect(loaded.sort()).toEqual([...shipped.matchAll(/- alert: (\w+)/g)].map((match) => match[1]).sort());
  const durations = Object.fromEntries(groups.flatMap((group) => group.rules).map((rule) => [rule.name, rule.duration]));
  expect([durations.HeartbeatServiceCritical, durations.HeartbeatServiceWarning, durations.HeartbeatTargetDown]).toEqual([1, 2, 2]);
  await pollUntil(
    async () => (await prom.query(`heartbeat_service_status{job="${JOB}", service="save_worker"}`)).map((sample) => sample.value[1]),
    (values) => values[0] === '0',
    10_000,
    POLL_MS,
  );
  // Prometheus applies its first targets up to 5 s after it starts, so HeartbeatNoTargets,
  // whose for: is 2 s here (1 m as shipped), may fire until the first scrape: wait until no
  // instance-level alert fires, then nothing about save_worker may be pending or firing.
  const instanceAlerts = ['HeartbeatTargetDown', 'HeartbeatInstanceOffline', 'HeartbeatMetricsMissing', 'HeartbeatNoTargets'];
  const quiet = await poll(
    (seen) => !seen.some((alert) => alert.endsWith(' firing') && instanceAlerts.includes(alert.split(' ')[0] as string)),
  );
  expect(quiet.at(-1)?.filter((alert) => alert.includes(' save_worker '))).toEqual([]);

  // Stall save_worker: warning, degraded, then critical ~2.6 s later in the demo; Prometheus
  // sees it at the next scrape and fires after the (shortened) for:.
  const stalledAt = Date.now();
  expect((await fetch(`${demo.bridgeUrl}/demo/services/save_worker/stall`, { method: 'POST' })).status).toBe(200);
  await poll((seen) => seen.includes('HeartbeatServiceCritical save_worker firing'));
  const criticalMs = Date.now() - stalledAt;
  const critical = (await prom.alerts()).find((alert) => alert.labels.alertname === 'HeartbeatServiceCritical');
  expect(critical?.labels).toEqual({
    alertname: 'HeartbeatServiceCritical',
    severity: 'critical',
    job: JOB,
    instance,
    service: 'save_worker',
  });
  expect(critical?.annotations.summary).toBe(`Heartbeat service save_worker on ${instance} is critical`);
  expect(critical?.annotations.description).toContain(`Service save_worker on instance ${instance} (job ${JOB})`);
  // The lower levels are "at least" levels: they fire too (Alertmanager's inhibit rules keep
  // only the critical one in notifications), and the refused webhook shows as a delivery failure.
  await poll((seen) =>
    [
      'HeartbeatServiceWarning save_worker firing',
      'HeartbeatServiceDegraded save_worker firing',
      'HeartbeatAlertDeliveryFailing demo-webhook firing',
    ].every((alert) => seen.includes(alert)),
  );

  // No double count: once the last pulse is more than 10 intervals old, HeartbeatPulsesStale's
  // condition holds for save_worker, but the rule leaves it to the critical alert.
  const staleRule = groups.flatMap((group) => group.rules).find((rule) => rule.name === 'HeartbeatPulsesStale');
  await pollUntil(
    async () =>
      (await prom.query(`(time() - heartbeat_last_pulse_timestamp_seconds) > 10 * heartbeat_interval_seconds`)).map(
        (sample) => sample.metric.service,
      ),
    (services) => services.includes('save_worker'),
    10_000,
    POLL_MS,
  );
  expect((await prom.query(staleRule?.query ?? 'missing')).map((sample) => sample.metric.service)).toEqual([]);
  expect((await alerts()).filter((alert) => alert.startsWith('HeartbeatPulsesStale'))).toEqual([]);

  // Resume: the next scrape sees it healthy and every save_worker alert resolves.
  const resumedAt = Date.now();
  await fetch(`${demo.bridgeUrl}/demo/services/save_worker/resume`, { method: 'POST' });
  await poll((seen) => !seen.some((alert) => alert.includes(' save_worker ')));
  const resolvedMs = Date.now() - resumedAt;

  // The recording rules count the fleet: one instance, healthy again.
  const instances = await pollUntil(
    async () => (await prom.query('job:heartbeat_instances:count')).map((sample) => `${sample.metric.status}=${sample.value[1]}`).sort(),
    (seen) => seen.includes('down=0') && seen.reduce((sum, entry) => sum + Number(entry.split('=')[1]), 0) === 1,
    10_000,
    POLL_MS,
  );
  expect(instances.at(-1)).toHaveLength(6);

  // Every dashboard query is valid PromQL for this Prometheus and the main panels have data.
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'grafana', 'heartbeat-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ name: string; query: { query: string } }> };
  };
  const grafanaVariables = (expr: string) => expr.replace(/\$__rate_interval/g, '5s').replace(/\$(job|instance|service)\b/g, '.*');
  const empty: string[] = [];
  for (const panel of dashboard.panels) {
    if (!panel.targets) continue;
    let samples = 0;
    for (const target of panel.targets) samples += (await prom.query(grafanaVariables(target.expr))).length;
    if (samples === 0) empty.push(panel.title);
  }
  // The demo sends no custom metrics; every other panel shows something.
  expect(empty).toEqual(['Custom metrics sent with pulses']);
  const instanceVariable = dashboard.templating.list.find((variable) => variable.name === 'instance');
  const [, selector, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(instanceVariable?.query.query ?? '') ?? [];
  expect(await prom.api(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(grafanaVariables(selector ?? ''))}`)).toEqual([
    instance,
  ]);

  // Every rule evaluated without error against real data.
  const unhealthy = (await prom.rules()).flatMap((group) => group.rules).filter((rule) => rule.health !== 'ok');
  expect(unhealthy.map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`)).toEqual([]);

  // The demo goes away: no in-process monitor is left to say so, Prometheus does.
  const stoppedAt = Date.now();
  await demo.stop();
  demo = undefined;
  const down = await poll((seen) => seen.includes(`HeartbeatTargetDown ${instance} firing`));
  const downMs = Date.now() - stoppedAt;
  // Its services went with it: that is one alert, not one per vanished service.
  expect(down.at(-1)?.filter((alert) => /^HeartbeatService(Vanished|Warning|Degraded|Critical) /.test(alert))).toEqual([]);

  const totalMs = Date.now() - started;
  if (process.env.HEARTBEAT_E2E_TIMINGS) console.log({ criticalMs, resolvedMs, downMs, totalMs });
  expect(totalMs).toBeLessThan(60_000);
}, 60_000);
