// metrics: the Prometheus exporter. Heartbeat gauges and counters collected from the core at scrape time, in the app's prom-client registry.
export { registerMetrics, type MetricsOptions, type MetricsRegistration } from './prometheus';
export { renderMetrics } from './render';
