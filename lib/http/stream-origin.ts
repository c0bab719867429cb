/**
 * Which browser pages may open a stream. Browsers send `Origin` with every EventSource and
 * WebSocket request and apply no CORS to WebSockets, so without this check any site a viewer
 * visits could read the stream with the viewer's network position (cross-site WebSocket
 * hijacking). A request without `Origin` is not from a browser page (curl, a service's client)
 * and passes: it could send any `Origin` it liked anyway.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  /** `allowed` in the serialized form (`readStreamOptions()` gives it so). */
  constructor(allowed: readonly string[]) {
    this.allowed = new Set(allowed);
  }

  /**
   * Whether a request with this `Origin` header may open a stream: none at all, the server's
   * own (its host equal to one of `ownHosts`, the `Host` headers the request reached the server
   * by), or one of the allowed origins. The scheme is not compared with the server's, which
   * behind a TLS proxy it cannot know; a page on the same host is the server's own either way.
   */
  admits(origin: string | undefined, ownHosts: ReadonlyArray<string | undefined>): boolean {
    if (origin === undefined) return true;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      // `null` (a sandboxed frame, a file) or garbage: no page anyone vouches for.
      return false;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    if (this.allowed.has(parsed.origin)) return true;
    return ownHosts.some((host) => host !== undefined && host !== '' && sameHost(parsed, host));
  }
}

/** Whether `host` (a `Host` header) names the host of `origin`, its default port written or not. */
function sameHost(origin: URL, host: string): boolean {
  try {
    return new URL(`${origin.protocol}//${host}`).host === origin.host;
  } catch {
    return false;
  }
}

/** The 403 body for a refused origin: the origin, and the option that would admit it. */
export function originRefusal(header: string): { error: string; origin: string } {
  // The caller's own header, cut short: an answer's size is not the caller's to choose.
  const origin = header.length > 200 ? `${header.slice(0, 200)}…` : header;
  return {
    error: `Origin ${JSON.stringify(origin)} may not open a health stream: it is not this server's own origin, nor listed in the stream option allowedOrigins.`,
    origin,
  };
}
