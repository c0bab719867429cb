// A Redis URL may carry a password, and is a secret as a whole: its host and port say where
// the app's infrastructure lives. Only an option error at the start shows it, redacted; what
// runs later (log lines, the health shown by `GET /live`) names no part of it.

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
 * `message` with the URL, its password (as written and URL-decoded), its host and port
 * replaced by `***`, for an error the client library raised about it: such messages name
 * hosts and ports (`connect ECONNREFUSED 10.0.0.5:6379`), and a library is free to quote what
 * it was given.
 */
export function scrubSecrets(message: string, url: string): string {
  let scrubbed = message.split(url).join('***');
  const secrets: string[] = [];
  try {
    const parsed = new URL(url);
    secrets.push(parsed.password, safeDecode(parsed.password), parsed.host, parsed.hostname, parsed.hostname.replace(/^\[|\]$/g, ''));
  } catch {
    // Not a URL: no part can be told apart from the rest.
  }
  // Longest first, so that `host:port` goes whole before `host`.
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    if (secret.length > 0) scrubbed = scrubbed.split(secret).join('***');
  }
  // The address a name resolved to, which the URL does not hold: `connect ECONNREFUSED 10.0.0.5:6379`.
  return scrubbed.replace(IP_ADDRESS, '***');
}

/**
 * An IPv4 address, or an IPv6 one in brackets, or bare with its port as Node prints it
 * (`::1:6379`: three colons or more, which no time of day has), each with an optional port.
 */
const IP_ADDRESS =
  /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9A-Fa-f:.]+\](?::\d+)?|(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){3,8}(?![\w:])/g;

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
