import type { Request, Response } from 'express';
import type { ServiceHistory } from './history';
import type { HeartbeatManager } from './manager';
import { sendError, sendJson } from './respond';

const CSV_COLUMNS = ['service', 'time', 'from', 'to', 'reason', 'uptime_24h', 'uptime_7d'] as const;

/**
 * One CSV field. Quotes, commas and line breaks are quoted; a leading `=`, `+`, `-`, `@`, tab
 * or CR gets a `'` so a spreadsheet shows the service name instead of running it as a formula.
 */
function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The history of every service as CSV: one row per status change, uptime ratios repeated per row. */
export function historyCsv(histories: ServiceHistory[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const history of histories) {
    for (const change of history.transitions) {
      rows.push(
        [history.service, change.time, change.from, change.to, change.reason, history.uptime['24h'], history.uptime['7d']]
          .map(csvField)
          .join(','),
      );
    }
  }
  return `${rows.join('\r\n')}\r\n`;
}

/** `GET {basePath}/export?format=json|csv`: the history of all services, for external tools. */
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
    const histories = manager.exportHistory();
    if (format === 'json') {
      sendJson(res, 200, { generated_at: new Date(manager.clock.wallNow()).toISOString(), services: histories });
      return;
    }
    res.status(200);
    res.set({
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="heartbeat-history.csv"',
      'Cache-Control': 'no-store',
    });
    res.send(historyCsv(histories));
  };
}
