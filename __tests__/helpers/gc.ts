import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection on demand, also under `npm test`, which runs jest without
 * `--expose-gc`: a context created while the flag is set gets V8's `gc` function, and that
 * function collects the whole heap. The flag is cleared again at once.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
}
