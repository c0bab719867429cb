/**
 * Prints a measured figure when `HEARTBEAT_FIGURES=1` is set, so a passing suite stays quiet
 * and the figures quoted in docs/reliability.md can be read again on demand:
 * `HEARTBEAT_FIGURES=1 npx jest __tests__/load.test.ts __tests__/soak.test.ts`.
 */
export function reportFigure(text: string): void {
  if (process.env.HEARTBEAT_FIGURES === '1') console.log(text);
}
