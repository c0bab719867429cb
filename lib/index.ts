export { Heartbeat, type HeartbeatOptions, type ErrorOptions } from './heartbeat';
export {
  HeartbeatManager,
  MAX_ERROR_LENGTH,
  type HeartbeatManagerOptions,
  type HealthStatus,
  type StatusChange,
  type StatusListener,
  type MonitorHealth,
} from './manager';
export { getDefaultManager, getConfig, CONFIG_ENV } from './default-manager';
export {
  resolveConfig,
  readConfigFile,
  DEFAULT_CONFIG,
  type HeartbeatConfig,
  type ServiceConfig,
  type ResolvedHeartbeatConfig,
  type ResolvedServiceConfig,
} from './config';
export { ConfigError } from './validate';
export { systemClock, type Clock } from './clock';
export { formatUptime } from './format';
export type { ServiceStatus, OverallStatus } from './status';
export type { ServiceStatusEntry, ServiceHealth, LastError } from './service-record';
export { healthRouter, type HealthRouter, type HealthRouterOptions } from './router';
export { pulseMiddleware, type PulseMiddleware } from './middleware';
export { registerMetrics, type MetricsOptions, type MetricsRegistration } from './metrics';
export { HealthMonitor, HealthMonitorError, type HealthMonitorOptions, type HealthMonitorErrorCode } from './client';
export type { StreamOptions, StreamSnapshot } from './stream';
export type { ServiceHistory } from './history';
export { AlertDispatcher, type AlertDispatcherOptions, type AlertTarget } from './alerts/dispatcher';
export { webhookNotifier, type WebhookOptions } from './alerts/webhook';
export { DeliveryError, type Alert, type AlertLevel, type AlertStatus, type Notifier } from './alerts/alert';
export type { Check, CheckOptions, Probe } from './checks';
export type { DetailsPolicy } from './details';
