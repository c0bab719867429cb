// store: the state directory's file mechanics (single-writer lock, atomic snapshots, synced journals, storage faults as status); internal until the engine uses it. Imports lib/util only.
export { StateDirectory, type StateDirectoryOptions } from './state-directory';
export { DirectoryInUseError } from './lock';
export { NewerFormatError, type Snapshot } from './snapshot';
export type { StoreStatus } from './write-health';
