// http: the Express layer. The health router and its endpoints, the pulse middleware, remote heartbeats, the event stream and the export.
export { healthRouter, type HealthRouter, type HealthRouterOptions } from './router';
export { pulseMiddleware, type PulseMiddleware } from './middleware';
export type { StreamSnapshot } from './stream';
export type { StreamOptions, WebSocketOptions } from './stream-options';
export type { AttachWebSocketOptions, UpgradableServer } from './ws-transport';
export type { DetailsPolicy } from './details';
export type { HealthCheckResponse, HeartbeatCheck, HealthCheckStatus } from './health-json';
