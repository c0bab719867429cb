// An in-process stand-in for Redis between replicas, for tests of the engine, the HTTP layer
// and the alerts on their own: several managers in one process share signals, notes and a lease
// through it. The real thing (redisStore against a real redis-server) has tests of its own.
import type { ReplicaLink, SharedSignal } from '../../lib/core/replicas';
import type { HeartbeatStore, SavedState, StoreHealth } from '../../lib/core/store';

export interface TestReplica {
  readonly link: ReplicaLink;
  /** A store for `new HeartbeatManager({ store })`: its `replicas` is `link`. */
  readonly store: HeartbeatStore;
  /** What this replica published, in order. */
  readonly published: SharedSignal[];
  /** Whether the hub is reachable from this replica: while not, publish() buffers and nothing arrives. */
  connected: boolean;
}

export class ReplicaHub {
  private readonly replicas: {
    replica: TestReplica;
    listener: ((signal: SharedSignal) => void) | null;
    waiting: SharedSignal[];
    leadListeners: ((leading: boolean) => void)[];
    leading: boolean;
  }[] = [];
  private readonly notes = new Map<string, Map<string, unknown>>();
  private snapshot: unknown = null;
  private nextId = 1;

  /** Milliseconds every replica's wall clock is behind the shared one. */
  skewMs = 0;

  /** A new replica; the first one leads. */
  join(): TestReplica {
    const id = `replica-${this.nextId++}`;
    const buffered: SharedSignal[] = [];
    const entry = {
      replica: undefined as unknown as TestReplica,
      listener: null as ((signal: SharedSignal) => void) | null,
      waiting: [] as SharedSignal[],
      leadListeners: [] as ((leading: boolean) => void)[],
      leading: this.replicas.length === 0,
    };
    const deliver = (signal: SharedSignal): void => {
      for (const other of this.replicas) {
        if (other === entry || !other.replica.connected) continue;
        if (other.listener) other.listener(signal);
        else other.waiting.push(signal);
      }
    };
    const link: ReplicaLink = {
      replicaId: id,
      skewMs: () => this.skewMs,
      publish: (signal) => {
        replica.published.push(signal);
        if (!replica.connected) {
          buffered.push(signal);
          return;
        }
        deliver(signal);
      },
      onSignal: (listener) => {
        entry.listener = listener;
        for (const signal of entry.waiting.splice(0)) listener(signal);
      },
      get leading() {
        return entry.leading;
      },
      onLeadChange: (listener) => {
        entry.leadListeners.push(listener);
      },
      saveNote: (space, key, value) => {
        let kept = this.notes.get(space);
        if (!kept) this.notes.set(space, (kept = new Map()));
        if (value === null) kept.delete(key);
        else kept.set(key, JSON.parse(JSON.stringify(value)) as unknown);
      },
      readNotes: (space) => Promise.resolve(new Map(this.notes.get(space) ?? [])),
    };
    const health: StoreHealth = { state: 'ok', lastError: null, errors: 0, lastWriteAt: null };
    const store: HeartbeatStore = {
      kind: 'test-replicas',
      replicas: link,
      load: (): SavedState => ({ snapshot: this.snapshot, entries: [] }),
      append: (_entries, snapshot) => {
        if (entry.leading) this.snapshot = JSON.parse(JSON.stringify(snapshot())) as unknown;
        return true;
      },
      health: () => health,
      close: (snapshot) => {
        if (entry.leading && snapshot !== undefined) this.snapshot = JSON.parse(JSON.stringify(snapshot)) as unknown;
        return Promise.resolve();
      },
    };
    const replica: TestReplica = {
      link,
      store,
      published: [],
      get connected() {
        return connected;
      },
      set connected(value: boolean) {
        connected = value;
        if (value) for (const signal of buffered.splice(0)) deliver(signal);
      },
    };
    let connected = true;
    entry.replica = replica;
    this.replicas.push(entry);
    return replica;
  }

  /** Hands the lease to `replica` (or to nobody), telling the old and the new holder. */
  lead(replica: TestReplica | null): void {
    for (const entry of this.replicas) {
      const leading = entry.replica === replica;
      if (entry.leading === leading) continue;
      entry.leading = leading;
      for (const listener of entry.leadListeners) listener(leading);
    }
  }

  /** The shared notes of `space`, as saved. */
  notesOf(space: string): ReadonlyMap<string, unknown> {
    return this.notes.get(space) ?? new Map();
  }
}
