// The trend over /metrics (issue 20): heartbeat_at_risk{service} and
// heartbeat_pulse_gap_seconds{service,stat}, read at scrape time from each service's gap model,
// and the alerting rule the metrics guide gives for them, through promtool.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createApp, type AppFixture } from './helpers/app';
import { ROOT } from './helpers/child';
import { codeBlocks } from './helpers/markdown';
import { useManagerTimers } from './helpers/managers';
import { exportedMetricNames, metricNamesIn } from './helpers/promql';
import { parseSamples, promtoolCheckMetrics } from './helpers/promtool';
import { DRIFT_INTERVAL, driftingGaps, steadyGaps } from './helpers/drift';

useManagerTimers({ doNotFake: ['nextTick', 'setImmediate'] });

const SECOND = 1000;

const GUIDE = 'docs/metrics-and-fleet.md';
/** The metrics guide's code blocks marked `<!-- docs-test: marker -->`. */
const guideBlocks = (marker: string) =>
  codeBlocks(GUIDE, readFileSync(join(ROOT, GUIDE), 'utf8')).filter((block) => block.marker === marker);

let fixture: AppFixture;

beforeEach(() => {
  fixture = createApp({ services: { nightly_backup: { schedule: '0 3 * * *' } } });
});

/** A service of `INTERVAL` seconds, started and pulsed; `gaps` (seconds) are the waits before each further pulse. */
function pulsing(tag: string, gaps: readonly number[]) {
  const heartbeat = fixture.manager.heartbeat({ tag, interval: DRIFT_INTERVAL }).start();
  heartbeat.pulse();
  for (const gap of gaps) {
    fixture.clock.advance(gap * SECOND);
    heartbeat.pulse();
  }
  return heartbeat;
}

/**
 * Services of `INTERVAL` seconds pulsing side by side, each after its own gaps (seconds), started
 * so that all of them pulse last at the same time: none is late when the scrape comes.
 */
function pulsingTogether(gapsByTag: Record<string, readonly number[]>) {
  const total = (gaps: readonly number[]) => gaps.reduce((sum, gap) => sum + gap, 0);
  const end = Math.max(...Object.values(gapsByTag).map(total));
  const events: { at: number; tag: string; start: boolean }[] = [];
  for (const [tag, gaps] of Object.entries(gapsByTag)) {
    let at = end - total(gaps);
    events.push({ at, tag, start: true });
    for (const gap of gaps) events.push({ at: (at += gap), tag, start: false });
  }
  events.sort((a, b) => a.at - b.at);
  const heartbeats = new Map(Object.keys(gapsByTag).map((tag) => [tag, fixture.manager.heartbeat({ tag, interval: DRIFT_INTERVAL })]));
  let now = 0;
  for (const { at, tag, start } of events) {
    fixture.clock.advance((at - now) * SECOND);
    now = at;
    const heartbeat = heartbeats.get(tag);
    if (start) heartbeat?.start();
    heartbeat?.pulse();
  }
  return heartbeats;
}

/** One real scrape of /metrics, checked by promtool. */
async function scrape(): Promise<string> {
  const response = await request(fixture.app).get('/metrics');
  expect(response.status).toBe(200);
  expect(promtoolCheckMetrics(response.text)).toEqual({ status: 0, output: '' });
  return response.text;
}

/** The lines of the two trend families, HELP and TYPE included, in the order exported. */
const trendLines = (text: string): string[] =>
  text.split('\n').filter((line) => /^(# (HELP|TYPE) )?heartbeat_(at_risk|pulse_gap_seconds)\b/.test(line));

const AT_RISK_HELP =
  "# HELP heartbeat_at_risk Whether the service's pulse gaps forecast a missed beat (its trend.at_risk): 1 at risk, 0 not. An early signal beside service_status, which it never changes. 0 while the model learns (the first 10 gaps) and for cron schedules.";
const GAP_HELP =
  '# HELP heartbeat_pulse_gap_seconds Seconds between signs of life, as the trend model sees them: stat="mean" is their moving mean (exponentially weighted over about the last 20 gaps), stat="p95" the 95th percentile of the last 20. Absent while the model learns (the first 10 gaps) and for cron schedules.';

it('exports at_risk for every service and the gap figures of those past learning: exact lines for cron, learning, steady and at-risk services, as the guide shows', async () => {
  // save_worker drifts toward its 33 s deadline; every gap stays within it, so its status is healthy.
  pulsingTogether({ save_worker: driftingGaps(8), steady_worker: steadyGaps(30), new_worker: steadyGaps(4) });
  const trend = (tag: string) => fixture.manager.service(tag)?.trend;
  expect(trend('save_worker')).toMatchObject({ at_risk: true, mean_gap_seconds: 24.149, p95_gap_seconds: 30.5 });
  expect(trend('steady_worker')).toMatchObject({ at_risk: false, mean_gap_seconds: 20, p95_gap_seconds: 20 });
  expect(trend('new_worker')).toMatchObject({ at_risk: false, mean_gap_seconds: null, reason: 'learning: 4 of 10 gaps' });
  expect(trend('nightly_backup')).toMatchObject({ at_risk: false, mean_gap_seconds: null, reason: expect.stringMatching(/^not forecast/) });

  const text = await scrape();
  // Services in the order listed: the configured cron one first. Learning and cron: at_risk 0 and no gap figures.
  expect(trendLines(text)).toEqual([
    AT_RISK_HELP,
    '# TYPE heartbeat_at_risk gauge',
    'heartbeat_at_risk{service="nightly_backup"} 0',
    'heartbeat_at_risk{service="save_worker"} 1',
    'heartbeat_at_risk{service="steady_worker"} 0',
    'heartbeat_at_risk{service="new_worker"} 0',
    GAP_HELP,
    '# TYPE heartbeat_pulse_gap_seconds gauge',
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="mean"} 24.149',
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="p95"} 30.5',
    'heartbeat_pulse_gap_seconds{service="steady_worker",stat="mean"} 20',
    'heartbeat_pulse_gap_seconds{service="steady_worker",stat="p95"} 20',
  ]);
  // An early signal beside the status, which it does not change: every service pulsed on time.
  for (const tag of ['save_worker', 'steady_worker', 'new_worker'])
    expect(parseSamples(text).get(`heartbeat_service_status{service="${tag}"}`)).toBe(0);
  // The guide's example exposition is this scrape's.
  expect(guideBlocks('metrics-exposition').map((block) => block.code)).toEqual([`${trendLines(text).join('\n')}\n`]);
});

it('follows the trend from scrape to scrape: the gaps appear at the tenth, at_risk turns 1 as the gaps drift and 0 when they recover', async () => {
  const heartbeat = pulsing('save_worker', steadyGaps(9));
  const samples = async () => {
    const all = parseSamples(await scrape());
    return Object.fromEntries([...all].filter(([series]) => /^heartbeat_(at_risk|pulse_gap_seconds)\{service="save_worker"/.test(series)));
  };
  expect(await samples()).toEqual({ 'heartbeat_at_risk{service="save_worker"}': 0 });

  const after = async (gaps: readonly number[]) => {
    for (const gap of gaps) {
      fixture.clock.advance(gap * SECOND);
      heartbeat.pulse();
    }
    return samples();
  };
  expect(await after([20])).toEqual({
    'heartbeat_at_risk{service="save_worker"}': 0,
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="mean"}': 20,
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="p95"}': 20,
  });

  const atRisk = await after(driftingGaps(8).slice(10));
  const { trend } = fixture.manager.service('save_worker') ?? {};
  expect(atRisk).toEqual({
    'heartbeat_at_risk{service="save_worker"}': 1,
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="mean"}': trend?.mean_gap_seconds,
    'heartbeat_pulse_gap_seconds{service="save_worker",stat="p95"}': trend?.p95_gap_seconds,
  });
  expect(trend?.at_risk).toBe(true);

  // Between pulses the verdict holds: it depends on pulse times alone.
  fixture.clock.advance(10 * SECOND);
  expect((await samples())['heartbeat_at_risk{service="save_worker"}']).toBe(1);

  const recovered = await after(steadyGaps(9));
  expect(recovered['heartbeat_at_risk{service="save_worker"}']).toBe(0);
  expect(fixture.manager.service('save_worker')?.trend).toMatchObject({
    at_risk: false,
    mean_gap_seconds: recovered['heartbeat_pulse_gap_seconds{service="save_worker",stat="mean"}'],
    p95_gap_seconds: recovered['heartbeat_pulse_gap_seconds{service="save_worker",stat="p95"}'],
  });
});

it('removes both families of a service that leaves, and keeps those of a configured one', async () => {
  const heartbeats = pulsingTogether({ save_worker: driftingGaps(8), steady_worker: steadyGaps(30) });
  const seriesOf = (text: string, tag: string) => trendLines(text).filter((line) => line.includes(`service="${tag}"`));
  expect(seriesOf(await scrape(), 'save_worker')).toHaveLength(3);

  heartbeats.get('save_worker')?.stop();
  const text = await scrape();
  expect(seriesOf(text, 'save_worker')).toEqual([]);
  expect(seriesOf(text, 'steady_worker')).toHaveLength(3);
  expect(seriesOf(text, 'nightly_backup')).toEqual(['heartbeat_at_risk{service="nightly_backup"} 0']);
});

describe('the alerting rule of the metrics guide', () => {
  const rules = guideBlocks('prometheus-rules').filter((block) => block.lang === 'yaml');
  const labels = (service: string) => `{job="heartbeat",instance="bridge-01:5001",service="${service}"}`;
  /** Fifteen-second scrapes: at_risk 1 from 30 s to 2 min 30 s for save_worker; at risk but already warning, or paused, for two others. */
  const UNIT_TESTS = `rule_files: [rules.yml]
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'heartbeat_at_risk${labels('save_worker')}'
        values: '0 0 1x8 0x6'
      - series: 'heartbeat_service_status${labels('save_worker')}'
        values: '0x16'
      - series: 'heartbeat_service_paused${labels('save_worker')}'
        values: '0x16'
      - series: 'heartbeat_at_risk${labels('late_worker')}'
        values: '1x16'
      - series: 'heartbeat_service_status${labels('late_worker')}'
        values: '1x16'
      - series: 'heartbeat_service_paused${labels('late_worker')}'
        values: '0x16'
      - series: 'heartbeat_at_risk${labels('paused_worker')}'
        values: '1x16'
      - series: 'heartbeat_service_status${labels('paused_worker')}'
        values: '0x16'
      - series: 'heartbeat_service_paused${labels('paused_worker')}'
        values: '1x16'
    alert_rule_test:
      - eval_time: 15s
        alertname: HeartbeatServiceAtRisk
        exp_alerts: []
      - eval_time: 30s
        alertname: HeartbeatServiceAtRisk
        exp_alerts:
          - exp_labels:
              severity: warning
              job: heartbeat
              instance: bridge-01:5001
              service: save_worker
            exp_annotations:
              summary: Heartbeat service save_worker on bridge-01:5001 may miss a beat soon
              description: The gaps between its pulses are drifting toward its deadline; see trend in /api/health/service/save_worker.
      - eval_time: 3m30s
        alertname: HeartbeatServiceAtRisk
        exp_alerts: []
`;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'heartbeat-trend-rules-'));
    writeFileSync(join(dir, 'rules.test.yml'), UNIT_TESTS);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const promtool = (...args: string[]) => {
    const result = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    if (result.error) throw new Error(`promtool could not run (${result.error.message}); npm test installs it.`);
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  it('is one block in the guide, which promtool check rules accepts', () => {
    expect(rules).toHaveLength(1);
    const exported = exportedMetricNames();
    const named = metricNamesIn(/expr: (.*)/.exec(rules[0]?.code ?? '')?.[1] ?? '');
    expect(named).toEqual(['heartbeat_at_risk', 'heartbeat_service_paused', 'heartbeat_service_status']);
    expect(named.filter((name) => !exported.includes(name))).toEqual([]);
    writeFileSync(join(dir, 'rules.yml'), rules[0]?.code ?? '');
    expect(promtool('check', 'rules', 'rules.yml')).toMatchObject({ status: 0, output: expect.stringContaining('SUCCESS: 1 rules found') });
  });

  it('fires at the first evaluation that sees a service at risk, not while it is already warning or paused, and resolves when the risk is gone', () => {
    writeFileSync(join(dir, 'rules.yml'), rules[0]?.code ?? '');
    const result = promtool('test', 'rules', 'rules.test.yml');
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('fails those unit tests when the rule ignores the status, so they can fail', () => {
    const code = rules[0]?.code ?? '';
    const loose = code.replace(/ unless on \(job, instance, service\) heartbeat_service_status >= 1/, '');
    expect(loose).not.toBe(code);
    writeFileSync(join(dir, 'rules.yml'), loose);
    const result = promtool('test', 'rules', 'rules.test.yml');
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('FAILED');
  });
});
