import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  service?: string;
  status?: string;
  previous?: string;
  missed?: number;
  [key: string]: unknown;
}

/** A real pino logger writing synchronously into an array, so tests read exactly what was logged. */
export function captureLogger(level: pino.LevelWithSilent = 'trace'): { logger: Logger; lines: LogLine[]; messages: () => string[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  const logger = pino({ level }, sink);
  return { logger, lines, messages: () => lines.map((line) => line.msg) };
}
