// Predictive health end to end, outside the engine (issue 20): the metrics guide's alerting rule
// fed the real scrapes of a drifting worker, and the demo's slowed worker resuming its pace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { HeartbeatManager } from '../lib/core/manager';
import { registerMetrics } from '../lib/metrics/prometheus';
import { SimulatedWorker } from '../demo-app/workers';
import { ROOT } from './helpers/child';
import { createTestClock, type TestClock } from './helpers/clock';
import { codeBlocks } from './helpers/markdown';
import { parseSamples } from './helpers/promtool';
import { DRIFT_INTERVAL, driftingGaps } from './helpers/drift';

const SECOND = 1000;

let clock: TestClock;
let manager: HeartbeatManager;

beforeEach(() => {
  jest.useFakeTimers();
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
});
afterEach(() => {
  void manager.close();
  jest.useRealTimers();
});

describe('the metrics guide against the code', () => {
  it("fires the guide's HeartbeatServiceAtRisk rule before the first missed beat of a drifting worker", async () => {
    const registry = new Registry();
    registerMetrics(manager, { registry });
    const heartbeat = manager.heartbeat({ tag: 'save_worker', interval: DRIFT_INTERVAL }).start();
    // Pulse times (s) of the drift, then no more: the next gap (33.5 s) would miss.
    const pulses: number[] = [0];
    for (const gap of driftingGaps()) pulses.push((pulses.at(-1) as number) + gap);
    const end = (pulses.at(-1) as number) + 90;
    // 15 s scrapes from 0 to the end, through the real registry.
    const series = { at_risk: [] as number[], service_status: [] as number[], service_paused: [] as number[] };
    let now = 0;
    let next = 0;
    for (let scrapeAt = 0; scrapeAt <= end; scrapeAt += 15) {
      while (next < pulses.length && (pulses[next] as number) <= scrapeAt) {
        clock.advance(((pulses[next] as number) - now) * SECOND);
        now = pulses[next] as number;
        heartbeat.pulse();
        next++;
      }
      clock.advance((scrapeAt - now) * SECOND);
      now = scrapeAt;
      const samples = parseSamples(await registry.metrics());
      for (const name of Object.keys(series) as Array<keyof typeof series>)
        series[name].push(samples.get(`heartbeat_${name}{service="save_worker"}`) as number);
    }
    // The premise: the flag was raised before the miss, with the status still healthy.
    const lastHealthy = series.service_status.lastIndexOf(0);
    expect(series.service_status.slice(lastHealthy + 1)).toContain(1);
    expect(series.at_risk[lastHealthy]).toBe(1);

    const rule = codeBlocks('docs/metrics-and-fleet.md', readFileSync(join(ROOT, 'docs/metrics-and-fleet.md'), 'utf8')).find(
      (block) => block.marker === 'prometheus-rules' && block.code.includes('HeartbeatServiceAtRisk'),
    );
    expect(rule).toBeDefined();
    const labels = `{job="heartbeat",instance="bridge-01:5001",service="save_worker"}`;
    const unitTests = {
      rule_files: ['rules.yml'],
      evaluation_interval: '15s',
      tests: [
        {
          interval: '15s',
          input_series: (Object.keys(series) as Array<keyof typeof series>).map((name) => ({
            series: `heartbeat_${name}${labels}`,
            values: series[name].join(' '),
          })),
          // The last scrape before the miss: the guide promises to be told by then.
          alert_rule_test: [
            {
              eval_time: `${String(lastHealthy * 15)}s`,
              alertname: 'HeartbeatServiceAtRisk',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', job: 'heartbeat', instance: 'bridge-01:5001', service: 'save_worker' },
                  exp_annotations: {
                    summary: 'Heartbeat service save_worker on bridge-01:5001 may miss a beat soon',
                    description:
                      'The gaps between its pulses are drifting toward its deadline; see trend in /api/health/service/save_worker.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'review-outer-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), rule?.code ?? '');
      writeFileSync(join(dir, 'rules.test.yml'), JSON.stringify(unitTests));
      const result = spawnSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      if (result.error) throw result.error;
      expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo slow', () => {
  it('resume puts a slowed worker back to its usual pace at once: no missed beat after resume', () => {
    const heartbeat = manager.heartbeat({ tag: 'save_worker', interval: 2 });
    const worker = new SimulatedWorker(heartbeat);
    const changes: string[] = [];
    worker.start();
    clock.advance(5 * SECOND);
    worker.slowDown();
    // Slow until the gaps are near, but under, the 2.2 s deadline: each round 0.1 s longer, the
    // 16th pulse 2.167 s after the 15th (the first slow pulse ends a usual round of 0.667 s).
    let last = manager.service('save_worker')?.total_pulses ?? 0;
    let rounds = 0;
    while (rounds < 16) {
      clock.advance(10);
      const pulses = manager.service('save_worker')?.total_pulses ?? 0;
      if (pulses !== last) {
        last = pulses;
        rounds++;
      }
    }
    expect(manager.service('save_worker')?.status).toBe('healthy');
    manager.on('status', (change) => changes.push(`${change.from}->${change.to}`));
    // Resumed right after a slow round: "back to its usual pace".
    worker.resume();
    clock.advance(10 * SECOND);
    worker.stop();
    expect(changes).toEqual([]);
  });
});
