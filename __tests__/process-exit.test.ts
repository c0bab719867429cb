import { spawnTs, waitForExit } from './helpers/child';

it('lets a process that started heartbeats and never stopped them exit by itself', async () => {
  const child = spawnTs('__tests__/fixtures/never-stops.ts', { HEARTBEAT_CONFIG: '' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const result = await waitForExit(child);
  clearTimeout(killer);
  expect(result.stderr).toBe('');
  expect(result.signal).toBeNull();
  expect(result.code).toBe(0);
  // The first line is the status; a busy machine may keep the process alive long enough for
  // router_tasks' 55 ms deadline to pass, and the health log line that follows is fine.
  const status = JSON.parse(result.stdout.split('\n')[0] ?? '');
  expect(Object.keys(status.services)).toEqual(['save_worker', 'router_tasks']);
});
