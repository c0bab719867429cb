import { readConfigFile, type ResolvedHeartbeatConfig } from './config';
import { HeartbeatManager } from './manager';

/** The environment variable naming a JSON config file for the default manager. */
export const CONFIG_ENV = 'HEARTBEAT_CONFIG';

let defaultManager: HeartbeatManager | undefined;

/**
 * The manager that heartbeats and routers use when none is given, like prom-client's default
 * `register`. Created on first use (never at import), from the JSON file named by the
 * `HEARTBEAT_CONFIG` environment variable when it is set. Closing it makes the next call
 * create a fresh one.
 */
export function getDefaultManager(): HeartbeatManager {
  if (!defaultManager || defaultManager.isClosed) {
    const path = process.env[CONFIG_ENV];
    const config = path ? readConfigFile(path, CONFIG_ENV) : undefined;
    defaultManager = new HeartbeatManager(config ? { config } : {});
  }
  return defaultManager;
}

/** The default manager's effective config, shaped as in the seed: `getConfig().heartbeat.enabled`. */
export function getConfig(): {
  /** The default manager's `config`. */
  heartbeat: ResolvedHeartbeatConfig;
} {
  return { heartbeat: getDefaultManager().config };
}
