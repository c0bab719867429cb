import { createClient } from 'redis';

/** A connection of the official client, as this store opens it. */
export type RedisConnection = ReturnType<typeof newClient>;

/** The longest wait between reconnection attempts, so a restarted Redis is found within about a second. */
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * A client for `url` (TLS for `rediss://`, as the client reads it). Commands made while it is
 * not connected fail at once instead of waiting in the client's own queue: the store keeps
 * what must wait (signals, notes) itself, bounded, and a lease command sent late would claim
 * a lease the replica no longer knows it has. The client reconnects by itself, forever, with
 * a capped backoff. `onError` sees every error it emits: a client without an `error`
 * listener would crash the process.
 */
export function createConnection(url: string, connectTimeoutMs: number, onError: (error: unknown) => void): RedisConnection {
  const client = newClient(url, connectTimeoutMs);
  client.on('error', onError);
  return client;
}

function newClient(url: string, connectTimeoutMs: number) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100),
    },
  });
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
