// A child process that opens the state directory HEARTBEAT_TEST_STORE_DIR and holds it: it
// prints "holding <pid>" and waits to be killed (it leaves by itself after 30 s, so a failed
// test leaves no process behind), or prints the refusal on stderr and exits with code 3.
import pino from 'pino';
import { StateDirectory } from '../../lib/store';

const dir = process.env.HEARTBEAT_TEST_STORE_DIR ?? '';
try {
  StateDirectory.open({ dir, logger: pino({ level: 'silent' }) });
  process.stdout.write(`holding ${process.pid}\n`);
  setTimeout(() => undefined, 30_000);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 3;
}
