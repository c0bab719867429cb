// client: HealthMonitor, a typed client of the health API for other Node processes, like the seed's C# HealthMonitor.
export { HealthMonitor, HealthMonitorError, type HealthMonitorOptions, type HealthMonitorErrorCode } from './health-monitor';
