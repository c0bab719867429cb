// The uptime figure beside a card's beat bar, from the page's own percent(), taken out of its script.
import { BEAT_BAR_SCRIPT } from '../lib/page/beat-bar-script';

// The page's function it is spliced into gives it make, since, serverNow and clockTime; percent() uses none.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const percent = new Function('make', 'since', 'serverNow', 'clockTime', `${BEAT_BAR_SCRIPT}; return percent;`)() as (
  ratio: number,
) => string;

it('floors a ratio to hundredths of a percent as /history gives it, not a hundredth below by a float’s error', () => {
  // 1 - 0.312 is 0.688 in /history's JSON, and 0.688 * 10000 is 6879.999999999999.
  expect(JSON.stringify(1 - 312 / 1000)).toBe('0.688');
  expect(percent(1 - 312 / 1000)).toBe('68.80%');
  expect(percent(1 - 195 / 1000)).toBe('80.50%');
  // Still floored, never rounded up to 100%.
  expect(percent(0.99996)).toBe('99.99%');
  expect(percent(0.9999999)).toBe('99.99%');
  expect(percent(1)).toBe('100%');
});
