import fs from 'node:fs';

type FsFunction =
  | 'linkSync'
  | 'writeFileSync'
  | 'openSync'
  | 'renameSync'
  | 'readFileSync'
  | 'readdirSync'
  | 'writeSync'
  | 'fdatasyncSync'
  | 'ftruncateSync';

/**
 * Makes the next `count` calls of `fs[method]` (those whose first argument is `path`, if given)
 * throw a Node-style error with `code`, as a failing disk would; other calls go through. For
 * faults no test can cause for real (EIO), or that need an exact instant. Undone by
 * `jest.restoreAllMocks()`.
 */
export function failNext(method: FsFunction, code: string, options: { path?: string; count?: number } = {}): jest.SpyInstance {
  if (jest.isMockFunction(fs[method])) fs[method].mockRestore();
  const real = fs[method] as (...args: unknown[]) => unknown;
  let left = options.count ?? 1;
  const spy = jest.spyOn(fs as unknown as Record<FsFunction, (...args: unknown[]) => unknown>, method);
  return spy.mockImplementation((...args: unknown[]) => {
    if (left > 0 && (options.path === undefined || args[0] === options.path)) {
      left--;
      throw Object.assign(new Error(`${code}: injected, ${method}`), { code });
    }
    return real(...args);
  });
}
