// util: small tools every layer may use (the clock, option validation, long timers, capped reads); they import nothing else from lib/.
export { ConfigError } from './validate';
export { systemClock, type Clock } from './clock';
export { formatUptime } from './format';
