const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration in the seed's uptime format: `"2d 14h 23m"`. Leading zero units are dropped,
 * inner ones kept (`"2d 0h 5m"`), and durations under a minute show seconds (`"42s"`).
 */
export function formatUptime(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (safe < MINUTE) return `${Math.floor(safe / 1000)}s`;
  const days = Math.floor(safe / DAY);
  const hours = Math.floor((safe % DAY) / HOUR);
  const minutes = Math.floor((safe % HOUR) / MINUTE);
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m`;
}

/**
 * A short duration for reasons such as `run exceeded max_runtime (10m)`: seconds with up to one
 * decimal under a minute (`"0.4s"`, `"5s"`), else the two largest units (`"10m"`, `"1m 30s"`, `"2h 5m"`).
 */
export function formatSeconds(seconds: number): string {
  const safe = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  if (safe < 60) return `${Number(safe.toFixed(safe < 10 ? 1 : 0))}s`;
  const units: Array<[number, string]> = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  const whole = Math.round(safe);
  const index = units.findIndex(([size]) => whole >= size);
  const [size, unit] = units[index] as [number, string];
  const first = `${Math.floor(whole / size)}${unit}`;
  const next = units[index + 1];
  if (!next || whole % size === 0) return first;
  const rest = Math.floor((whole % size) / next[0]);
  return rest === 0 ? first : `${first} ${rest}${next[1]}`;
}
