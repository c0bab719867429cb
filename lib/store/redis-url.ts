// A Redis URL may carry a password, and is a secret as a whole: only its redacted form may
// reach a message, a log line or the health shown by `GET /live`.

/**
 * `url` with its password replaced by `***` (`redis://user:***@host:6379/0`), and its query
 * and fragment left out. A string that is not a URL has everything between `//` and `@`
 * replaced, the one place a password can hide in one.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/]*@/, '//***@');
  }
  const credentials = parsed.password
    ? `${parsed.username ? `${parsed.username}:` : ''}***@`
    : parsed.username
      ? `${parsed.username}@`
      : '';
  return `${parsed.protocol}//${credentials}${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/**
 * `message` with the URL and its password (as written and URL-decoded) replaced, for an
 * error the client library raised about it: such messages name hosts and ports, but a
 * library is free to quote what it was given.
 */
export function scrubSecrets(message: string, url: string): string {
  let scrubbed = message.split(url).join(redactUrl(url));
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    // Not a URL: no password can be told apart from the rest.
  }
  for (const secret of new Set([password, safeDecode(password)])) {
    if (secret.length > 0) scrubbed = scrubbed.split(secret).join('***');
  }
  return scrubbed;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
