import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

export type AuthResult = 'ok' | 'missing' | 'wrong' | 'in-query';

/** What a token check reads of a request: its headers and query, whether an Express request or a WebSocket upgrade's. */
export type Credentials = Pick<Request, 'headers' | 'query'>;

const QUERY_TOKEN_NAMES = ['token', 'access_token', 'remote_token', 'auth'];

/**
 * Checks `Authorization: Bearer <token>` against the configured token in constant time: both
 * are hashed first, so neither the content nor the length of the token leaks through timing.
 * A token in the query string is refused outright, since URLs end up in logs and histories.
 */
export class BearerAuth {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  check(req: Credentials): AuthResult {
    for (const name of QUERY_TOKEN_NAMES) if (req.query[name] !== undefined) return 'in-query';
    const header = req.headers.authorization;
    if (!header) return 'missing';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!match) return 'wrong';
    return timingSafeEqual(digest(match[1] as string), this.expected) ? 'ok' : 'wrong';
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** What a 401 says for each failure: enough to fix the call, nothing about the token. */
export const AUTH_ERRORS: Record<Exclude<AuthResult, 'ok'>, string> = {
  missing: 'Authentication required: send Authorization: Bearer <token>.',
  wrong: 'The bearer token is not valid.',
  'in-query': 'Tokens are not accepted in the query string; send Authorization: Bearer <token>.',
};
