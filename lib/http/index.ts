// http: the Express layer. The health router and its endpoints, the pulse middleware, remote heartbeats, the event stream and the export.
export { healthRouter, type HealthRouter, type HealthRouterOptions } from './router';
export { pulseMiddleware, type PulseMiddleware } from './middleware';
export type { StreamOptions, StreamSnapshot } from './stream';
export type { DetailsPolicy } from './details';
