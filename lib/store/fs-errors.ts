/** The `code` of a Node file system error (`ENOSPC`, `EROFS`, …), or undefined for anything else. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An error's message; Node's file system errors name the call and the path, never file contents. */
export function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * Errors of the storage rather than of the configuration: a full disk or quota, a read-only or
 * failing file system, no permission, no file descriptors left. They degrade the store; any
 * other error opening the directory (a path that is a file, too long) is the caller's to fix.
 */
const STORAGE_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);

export function isStorageFault(error: unknown): boolean {
  return STORAGE_FAULTS.has(codeOf(error) ?? '');
}
