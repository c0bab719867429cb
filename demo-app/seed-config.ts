import type { HeartbeatConfig } from '../lib';

/** The seed document's HEARTBEAT_CONFIG, used when the HEARTBEAT_CONFIG environment variable names no file. */
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
    file_indexer: { interval: 60, critical: false },
    router_tasks: { interval: 45, critical: false },
  },
};
