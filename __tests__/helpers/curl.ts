import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** One HTTP exchange a `curl` command made, as curl itself reported it. */
export interface Transfer {
  method: string;
  /** The raw path of the effective URL, without the query. */
  path: string;
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body, from stdout or from the file curl wrote it to (`-O`, `-o`). */
  body: string;
  /** The body parsed, when it was sent as JSON. */
  json?: unknown;
}

// Markers around what curl reports of each exchange (a format starting with @ would name a file).
const BEGIN = '[[docs-test-begin]]';
const HEADERS = '[[docs-test-headers]]';
const END = '[[docs-test-end]]';

/**
 * Runs a shell command line of `curl` commands as written, in `cwd`, with a curl config that
 * makes any answer of 400 or more fail the command (`--fail-with-body`) and has curl report
 * each exchange after its body (`--write-out`). Rejects, with what curl said, if it fails.
 */
export async function runCurl(command: string, cwd: string, env: Record<string, string> = {}): Promise<Transfer[]> {
  const home = mkdtempSync(join(cwd, '.curl-'));
  writeFileSync(
    join(home, '.curlrc'),
    ['silent', 'show-error', 'fail-with-body', `write-out = "${BEGIN}%{json}${HEADERS}%{header_json}${END}\\n"`, ''].join('\n'),
  );
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'sh',
      ['-c', command],
      { cwd, timeout: 30_000, env: { ...process.env, ...env, CURL_HOME: home, XDG_CONFIG_HOME: home } },
      (error, out, err) => {
        if (error)
          reject(
            new Error(`${command}\nfailed: ${err.trim()}\n${out.replace(/\[\[docs-test-begin\]\][\s\S]*?\[\[docs-test-end\]\]/g, '')}`),
          );
        else resolve(out);
      },
    );
  });
  const transfers: Transfer[] = [];
  const [begin, middle, end] = [BEGIN, HEADERS, END].map((marker) => marker.replace(/[[\]]/g, '\\$&'));
  const pattern = new RegExp(`([\\s\\S]*?)${begin}([\\s\\S]*?)${middle}([\\s\\S]*?)${end}\\n?`, 'g');
  for (const [, printed = '', meta = '', headerJson = ''] of stdout.matchAll(pattern)) {
    const info = JSON.parse(meta) as { method: string; url_effective: string; http_code: number; filename_effective: string | null };
    const headers = Object.fromEntries(
      Object.entries(JSON.parse(headerJson) as Record<string, string[]>).map(([name, values]) => [name.toLowerCase(), values.join(', ')]),
    );
    const file = info.filename_effective;
    const body = file ? readFileSync(isAbsolute(file) ? file : join(cwd, file), 'utf8') : printed;
    const json = /^application\/(.+\+)?json/.test(headers['content-type'] ?? '') ? (JSON.parse(body) as unknown) : undefined;
    transfers.push({
      method: info.method,
      path: new URL(info.url_effective).pathname,
      status: info.http_code,
      headers,
      body,
      ...(json === undefined ? {} : { json }),
    });
  }
  if (transfers.length === 0) throw new Error(`${command}\nmade no HTTP exchange; it printed:\n${stdout}`);
  return transfers;
}
