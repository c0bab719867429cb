// store: stores behind the core's store contract. fileStore() keeps state in a directory: a single-writer lock, atomic snapshots, synced journals, storage faults as status. redisStore() shares the remote services among replicas through Redis. Imports lib/util and lib/core/store.ts only.
export { fileStore, type FileStoreOptions } from './file-store';
export { redisStore, type RedisStore, type RedisStoreOptions } from './redis-store';
export { StateDirectory, type StateDirectoryOptions } from './state-directory';
export { DirectoryInUseError } from './lock';
export { NewerFormatError, type Snapshot } from './snapshot';
export type { StoreStatus } from './write-health';
