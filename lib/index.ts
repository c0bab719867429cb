export { Heartbeat, type HeartbeatOptions, type ErrorOptions } from './core/heartbeat';
export {
  HeartbeatManager,
  MAX_ERROR_LENGTH,
  type HeartbeatManagerOptions,
  type HealthStatus,
  type StatusChange,
  type StatusListener,
  type MonitorHealth,
} from './core/manager';
export { getDefaultManager, getConfig, CONFIG_ENV } from './core/default-manager';
export {
  resolveConfig,
  readConfigFile,
  DEFAULT_CONFIG,
  type HeartbeatConfig,
  type ServiceConfig,
  type ResolvedHeartbeatConfig,
  type ResolvedServiceConfig,
} from './core/config';
export { ConfigError } from './util/validate';
export { systemClock, type Clock } from './util/clock';
export { formatUptime } from './util/format';
export type { ServiceStatus, OverallStatus } from './core/status';
export type { ServiceStatusEntry, ServiceHealth, LastError } from './core/service-record';
export { healthRouter, type HealthRouter, type HealthRouterOptions } from './http/router';
export { pulseMiddleware, type PulseMiddleware } from './http/middleware';
export { registerMetrics, type MetricsOptions, type MetricsRegistration } from './metrics/prometheus';
export { HealthMonitor, HealthMonitorError, type HealthMonitorOptions, type HealthMonitorErrorCode } from './client/health-monitor';
export type { StreamOptions, StreamSnapshot } from './http/stream';
export type { ServiceHistory } from './core/history';
export { AlertDispatcher, type AlertDispatcherOptions, type AlertTarget } from './alerts/dispatcher';
export { webhookNotifier, type WebhookOptions } from './alerts/webhook';
export { DeliveryError, type Alert, type AlertLevel, type AlertStatus, type Notifier } from './alerts/alert';
export type { Check, CheckOptions, Probe } from './core/checks';
export type { DetailsPolicy } from './http/details';
