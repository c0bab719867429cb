import { formatUptime } from '../lib/util/format';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

it.each([
  [0, '0s'],
  [42 * s, '42s'],
  [59_999, '59s'],
  [m, '1m'],
  [23 * m + 59 * s, '23m'],
  [14 * h + 23 * m, '14h 23m'],
  [2 * d + 14 * h + 23 * m, '2d 14h 23m'],
  [2 * d + 5 * m, '2d 0h 5m'],
  [-5, '0s'],
  [Number.NaN, '0s'],
])('formatUptime(%p) is %p', (ms, text) => {
  expect(formatUptime(ms)).toBe(text);
});
