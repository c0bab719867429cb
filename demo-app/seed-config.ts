import type { HeartbeatConfig } from '../lib';

/**
 * The seed document's HEARTBEAT_CONFIG, used when the HEARTBEAT_CONFIG environment variable
 * names no file: the seed's keys as written, plus the demo's job, dependency and maintenance
 * settings.
 */
export const SEED_CONFIG: HeartbeatConfig = {
  enabled: true,
  default_interval: 30,
  timeout_multiplier: 3,
  alert_on_miss: true,
  log_level: 'INFO',
  services: {
    save_worker: { interval: 30, critical: true },
    flask_bridge: { interval: 15, critical: true },
    web_listener: { interval: 20, critical: false },
    // The bridge's HTTP check of its listener: when the listener is down, only the listener alerts.
    web_listener_check: { interval: 20, critical: false, depends_on: ['web_listener'] },
    file_indexer: { interval: 60, critical: false },
    // A job: each run takes a tenth of the interval (4.5 s); one still open after 20 s is stuck.
    router_tasks: { interval: 45, critical: false, max_runtime: 20 },
  },
  // A nightly window, at 03:00 server time for 15 minutes, for the file indexer's rebuild: by day
  // nobody trying the demo meets it, and at night it shows the config's windows at work.
  maintenance: [{ services: ['file_indexer'], cron: '0 3 * * *', duration: 900 }],
};
