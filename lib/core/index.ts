// core: the engine. Heartbeats, the manager and its monitor, status rules, scheduling and lanes, service records, history and config; no HTTP, no metrics library.
export {
  Heartbeat,
  HeartbeatManager,
  getDefaultManager,
  getConfig,
  CONFIG_ENV,
  MAX_ERROR_LENGTH,
  type HeartbeatOptions,
  type ErrorOptions,
  type HeartbeatManagerOptions,
  type HealthStatus,
  type StatusChange,
  type StatusListener,
  type MonitorHealth,
  type Check,
  type PauseChange,
  type PauseListener,
  type PauseOptions,
  type TrendChange,
  type TrendListener,
} from './manager';
export { JobRun, type RunFailOptions } from './job-run';
export {
  resolveConfig,
  readConfigFile,
  DEFAULT_CONFIG,
  type HeartbeatConfig,
  type ServiceConfig,
  type ResolvedHeartbeatConfig,
  type ResolvedServiceConfig,
  type MaintenanceWindow,
  type ResolvedMaintenanceWindow,
} from './config';
export type { CheckOptions, Probe } from './checks';
export type { ServiceStatus, OverallStatus } from './status';
export type { ServiceStatusEntry, ServiceHealth, LastError, ServiceRun, ServicePause } from './service-record';
export type { ServiceHistory } from './history';
export type { GapTrendView } from './trend';
export type { RuntimeAnomaly } from './runtime-anomaly';
export type { DailyRollup } from './rollups';
export { memoryStore, type HeartbeatStore, type SavedState, type StoreContext, type StoreHealth } from './store';
export type {
  ReplicaLink,
  SharedSignal,
  SharedRunEnding,
  SharedPulse,
  SharedError,
  SharedStart,
  SharedEnd,
  SharedPause,
  SharedNamed,
} from './replicas';
