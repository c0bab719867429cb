// Bounds on the text the engine keeps, in a module of their own: the monitor and the watcher
// apply them, and persisted-state checks files against them without importing either.

/** Longest error message kept, in characters: messages are stored, logged and served, so they are bounded. */
export const MAX_ERROR_LENGTH = 1024;

/** Longest reason kept in a service's history, in characters. */
export const MAX_HISTORY_REASON = 200;
