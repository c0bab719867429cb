import type { IncomingMessage } from 'node:http';

/** Express's compiled `trust proxy` setting: whether the hop at `address`, `hop` steps from the server, is a trusted proxy. */
export type TrustProxy = (address: string | undefined, hop: number) => boolean;

/** The app's `trust proxy` as Express compiled it (`app.get('trust proxy fn')`), or `undefined` for anything but an Express app. */
export function trustOf(app: unknown): TrustProxy | undefined {
  if (typeof app !== 'function') return undefined;
  const get = (app as { get?: unknown }).get;
  if (typeof get !== 'function') return undefined;
  const trust: unknown = (get as (setting: string) => unknown).call(app, 'trust proxy fn');
  return typeof trust === 'function' ? (trust as TrustProxy) : undefined;
}

/**
 * The client's address as Express's `req.ip` reads it: the socket's peer, or, through each
 * proxy `trust` vouches for, the next address of `X-Forwarded-For` from the right; the first
 * untrusted hop is the client.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy | undefined): string {
  const peer = req.socket.remoteAddress ?? '';
  const header = req.headers['x-forwarded-for'];
  if (!trust || typeof header !== 'string') return peer;
  const chain = [
    peer,
    ...header
      .split(',')
      .map((address) => address.trim())
      .filter(Boolean)
      .reverse(),
  ];
  for (let hop = 0; hop < chain.length - 1; hop++) if (!trust(chain[hop], hop)) return chain[hop] as string;
  return chain[chain.length - 1] as string;
}

/**
 * The hosts the request reached the server by: its `Host`, and the first `X-Forwarded-Host`
 * when `trust` vouches for the proxy that sent it (Express's rule for `req.hostname`, with the
 * port kept, which comparing origins needs).
 */
export function requestHosts(req: IncomingMessage, trust: TrustProxy | undefined): Array<string | undefined> {
  const forwarded = req.headers['x-forwarded-host'];
  if (typeof forwarded === 'string' && trust?.(req.socket.remoteAddress, 0) === true) {
    return [forwarded.split(',')[0]?.trim(), req.headers.host];
  }
  return [req.headers.host];
}
