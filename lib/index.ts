// express-heartbeat's public API, layer by layer: core (the engine) ← http, metrics, alerts, page, client.
export * from './core';
export * from './util';
export * from './http';
export * from './metrics';
export * from './alerts';
export * from './client';
