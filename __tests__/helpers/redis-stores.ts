import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import type { SharedSignal } from '../../lib/core/replicas';
import type { SavedState, StoreContext } from '../../lib/core/store';
import { systemClock } from '../../lib/util/clock';
import { redisStore, type RedisStore, type RedisStoreOptions } from '../../lib/store/redis-store';
import { captureLogger } from './logger';
import { startRedis, type RedisServer } from './redis-server';

export interface OpenStore {
  readonly store: RedisStore;
  /** What the store's listener got, in order. */
  readonly received: SharedSignal[];
  /** What the store logged at warn and above. */
  readonly log: ReturnType<typeof captureLogger>;
  /** What load() returned. */
  readonly loaded: SavedState;
}

/** Opens Redis stores for one test file and closes whatever a test left open. */
export function redisStores() {
  const open = new Set<RedisStore>();
  return {
    /** A store on `url` with the given options, loaded with a capturing logger on the real clock. */
    async open(options: RedisStoreOptions): Promise<OpenStore> {
      const store = await redisStore(options);
      open.add(store);
      const log = captureLogger('warn');
      const context: StoreContext = { logger: log.logger, clock: systemClock };
      const loaded = store.load(context);
      const received: SharedSignal[] = [];
      store.replicas.onSignal((signal) => received.push(signal));
      return { store, received, log, loaded };
    },
    async close(store: RedisStore, snapshot?: unknown): Promise<void> {
      open.delete(store);
      await store.close(snapshot);
    },
    async closeAll(): Promise<void> {
      const all = [...open];
      open.clear();
      await Promise.all(all.map((store) => store.close(undefined)));
    },
  };
}

/** A key prefix no other test uses. */
export function freshPrefix(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` every 20 ms until it is true; fails after `timeoutMs` with `what`. Generous by default: the wait ends at the event. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function pulse(service: string, at: number, rid: string | null = null): SharedSignal {
  return { kind: 'pulse', service, at, rid };
}

/**
 * A real redis-server for one test file, with an admin client to look at its keys and the
 * stores the tests open, closed after each test. With `restartAfterEach`, a test may stop or
 * restart the server: it is running again before the next one. Call at the top of a file.
 */
export function useRedis(options: { restartAfterEach?: boolean } = {}) {
  const fixture = {
    redis: undefined as unknown as RedisServer,
    admin: undefined as unknown as ReturnType<typeof createClient>,
    stores: redisStores(),
  };
  beforeAll(async () => {
    fixture.redis = await startRedis();
    fixture.admin = createClient({ url: fixture.redis.url });
    fixture.admin.on('error', () => undefined);
    await fixture.admin.connect();
  });
  afterEach(async () => {
    if (options.restartAfterEach) await fixture.redis.restart().catch(() => undefined);
    await fixture.stores.closeAll();
  });
  afterAll(async () => {
    fixture.admin.destroy();
    await fixture.redis.stop();
  });
  return fixture;
}
