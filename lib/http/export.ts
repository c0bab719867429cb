import type { Request, Response } from 'express';
import type { Clock } from '../util/clock';
import { historyOf, transitionOf, uptimeRatios, type ServiceHistory } from '../core/history';
import type { HeartbeatManager } from '../core/manager';
import { sendError } from './respond';
import type { ServiceRecord } from '../core/service-record';
import { writeInChunks } from './write-chunks';

const CSV_COLUMNS = ['service', 'time', 'from', 'to', 'reason', 'uptime_24h', 'uptime_7d'] as const;

/**
 * A `=`, `+`, `-` or `@` that some spreadsheet could take for the start of a formula: at the
 * start of the field, or after a character a reader may split cells or rows on (`,` `;` `|`
 * tab CR LF, whichever separator it assumes), with only whitespace, quotes or NULs between.
 */
const CELL_START_FORMULA = /(^|[,;|\t\r\n])([\s"\0]*)([=+\-@])/g;
/** OWASP's and ASVS's list of characters a field must not begin with. */
const RISKY_FIRST_CHARACTER = /^[=+\-@\t\r\n\0]/;

/**
 * One CSV field, made safe for spreadsheets (OWASP CSV injection): always quoted, its quotes
 * doubled, so no separator inside it starts a cell for a reader that honours quotes; a formula
 * character wherever a cell could start for one that does not gets a `'` before it, and so does
 * a field that begins with one of OWASP's characters, so it shows as text instead of running.
 *
 * @internal Exported for tests.
 */
export function csvField(value: string | number): string {
  let text = String(value).replace(CELL_START_FORMULA, "$1$2'$3");
  if (RISKY_FIRST_CHARACTER.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * Each service's whole history, built one service at a time as the export reaches it: a
 * service's parts are consistent with each other, and the export never holds more than one
 * service's copy of its history. The daily rollups cover every retained day (`retentionDays`),
 * from the day the service was first watched.
 */
function* serviceHistories(records: readonly ServiceRecord[], clock: Clock, retentionDays: number): Generator<ServiceHistory> {
  for (const record of records) yield historyOf(record, clock, clock.now(), retentionDays);
}

/**
 * Exactly `JSON.stringify({ generated_at, services })` of the services' histories with all
 * their retained days, in pieces: a transition or a day per piece, since a service may have
 * thousands of each.
 */
function* jsonPieces(records: readonly ServiceRecord[], clock: Clock, retentionDays: number, generatedAt: string): Generator<string> {
  yield `{"generated_at":${JSON.stringify(generatedAt)},"services":[`;
  let separator = '';
  for (const { service, uptime, transitions, gaps, daily = [] } of serviceHistories(records, clock, retentionDays)) {
    yield `${separator}{"service":${JSON.stringify(service)},"uptime":${JSON.stringify(uptime)},"transitions":[`;
    separator = ',';
    for (let i = 0; i < transitions.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(transitions[i])}`;
    yield `],"gaps":${JSON.stringify(gaps)},"daily":[`;
    for (let i = 0; i < daily.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(daily[i])}`;
    yield ']}';
  }
  yield ']}';
}

/**
 * The CSV export in pieces: the header row, then one row per status change, uptime ratios
 * repeated per row. One table of one row shape, as a spreadsheet expects: the offline gaps and
 * the daily rollups, which have other columns, are in the JSON export only.
 */
function* csvPieces(records: readonly ServiceRecord[], clock: Clock): Generator<string> {
  yield `${CSV_COLUMNS.map(csvField).join(',')}\r\n`;
  for (const record of records) {
    const name = csvField(record.tag);
    const uptime = uptimeRatios(record, clock.now());
    const ratios = `${csvField(uptime['24h'])},${csvField(uptime['7d'])}`;
    for (const entry of record.history.toArray()) {
      const change = transitionOf(clock, entry);
      yield `${name},${csvField(change.time)},${csvField(change.from)},${csvField(change.to)},${csvField(change.reason)},${ratios}\r\n`;
    }
  }
}

/**
 * `GET {basePath}/export?format=json|csv`: the history of all services, for external tools: in
 * JSON each service's history with its gaps and its daily rollups over `retention_days`; in
 * CSV its status changes.
 * Streamed: at the default caps the export holds a million entries, and building it whole
 * would block the event loop for seconds (200,000 entries took about 2 s). It is written in
 * chunks of about 64 KB with a turn of the event loop between them, at the pace the client
 * reads, and abandoned if the client goes away.
 */
export function exportHandler(manager: HeartbeatManager) {
  return (req: Request, res: Response): void => {
    const given = req.query.format ?? 'json';
    if (given !== 'json' && given !== 'csv') {
      // A repeated or nested parameter is echoed as the text it was, never as an array or object.
      const format = typeof given === 'string' ? given : JSON.stringify(given);
      sendError(res, 400, `Unknown export format ${JSON.stringify(format)}; use format=json or format=csv.`, { format });
      return;
    }
    const format = given;
    const headers =
      format === 'json'
        ? { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }
        : {
            'Content-Type': 'text/csv; charset=utf-8',
            'Content-Disposition': 'attachment; filename="heartbeat-history.csv"',
            'Cache-Control': 'no-store',
          };
    const start = (): void => {
      res.status(200);
      res.set(headers);
    };
    if (req.method === 'HEAD') {
      start();
      res.end();
      return;
    }
    manager.rollPending(); // the daily totals up to the latest pulse
    const records = [...manager.listedRecords()];
    const clock = manager.clock;
    const pieces =
      format === 'json'
        ? jsonPieces(records, clock, manager.config.retention_days, new Date(clock.wallNow()).toISOString())
        : csvPieces(records, clock);
    writeInChunks(res, pieces, {
      start,
      failed: (error) => {
        manager.logger.error({ err: error }, 'Export failed while streaming; the response was cut short');
      },
    });
  };
}
