import { createClient } from 'redis';

/** A connection of the official client, as this store opens it. */
export type RedisConnection = ReturnType<typeof newClient>;

/** The longest wait between reconnection attempts, so a restarted Redis is found within about a second. */
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * A client for `url` (TLS for `rediss://`, as the client reads it). Commands made while it is
 * not connected fail at once instead of waiting in the client's own queue: the store keeps
 * what must wait (signals, notes) itself, bounded, and a lease command sent late would claim
 * a lease the replica no longer knows it has. Once `reconnects()` says so, the client
 * reconnects by itself, forever, with a capped backoff; before that (while the store opens),
 * a failed attempt ends `connect()`, so that {@link connectWithin} retries on timers it can
 * cancel: the client's own backoff timer would outlive a rejected start. `onError` sees every
 * error it emits: a client without an `error` listener would crash the process.
 */
export function createConnection(
  url: string,
  connectTimeoutMs: number,
  reconnects: () => boolean,
  onError: (error: unknown) => void,
): RedisConnection {
  const client = newClient(url, connectTimeoutMs, reconnects);
  client.on('error', onError);
  return client;
}

function newClient(url: string, connectTimeoutMs: number, reconnects: () => boolean) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) =>
        reconnects() ? Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100) : false,
    },
  });
}

/** The wait between attempts while the store opens. */
const OPEN_RETRY_MS = 100;

/**
 * Connects `client`, trying again every {@link OPEN_RETRY_MS} until `deadline` (a
 * `performance.now()` time); resolves whether it is connected. Never rejects: `onFailure`
 * hears each failed attempt. The caller destroys a client that did not connect.
 */
export async function connectWithin(client: RedisConnection, deadline: number, onFailure: (error: unknown) => void): Promise<boolean> {
  while (performance.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const attempt = client.connect().then(
      () => true,
      (error: unknown) => {
        onFailure(error);
        return false;
      },
    );
    const expired = new Promise<null>((resolve) => {
      timer = setTimeout(
        () => {
          resolve(null);
        },
        Math.max(0, deadline - performance.now()),
      );
    });
    const connected = await Promise.race([attempt, expired]);
    clearTimeout(timer);
    if (connected === true) return true;
    if (connected === null) return false; // still trying: the caller's destroy() ends it
    const pause = Math.min(OPEN_RETRY_MS, deadline - performance.now());
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  return false;
}

/** Closes `client`, and destroys it if it has not closed within `graceMs` (Redis away, a command blocked). Never rejects. */
export async function closeConnection(client: RedisConnection, graceMs: number): Promise<void> {
  if (!client.isOpen) {
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
    timer.unref();
  });
  try {
    await Promise.race([client.close().catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}
