/**
 * The gaps of a worker that falls behind, shared by the predictive-health tests (issue 20). On
 * an interval of {@link DRIFT_INTERVAL} seconds with the default grace (10%), a beat is missed
 * once a gap passes 33 s. After a start and a pulse, {@link driftingGaps}() leaves the worker
 * still healthy but at risk: `eta_seconds` 33, reason `gaps growing 1.5 s per beat: …`.
 */
export const DRIFT_INTERVAL = 30;

/** `count` gaps of `gap` seconds: a worker keeping its pace (ten of them clear a drift's risk). */
export const steadyGaps = (count: number, gap = 20): number[] => Array.from({ length: count }, () => gap);

/** Twenty steady gaps of 20 s, then `growing` gaps 1.5 s longer each: 21.5, 23, 24.5 … (eight reach 32 s). */
export const driftingGaps = (growing = 8): number[] => [
  ...steadyGaps(20),
  ...Array.from({ length: growing }, (_, i) => 20 + 1.5 * (i + 1)),
];

/** Moves `clock` by each of `gaps` (seconds), firing due timers, and pulses after each. */
export function pulseAfterGaps(clock: { advance(ms: number): void }, heartbeat: { pulse(): void }, gaps: readonly number[]): void {
  for (const gap of gaps) {
    clock.advance(gap * 1000);
    heartbeat.pulse();
  }
}

/** The `trend` a service body shows while its model learns, after `gaps` gaps: no figures, no forecast (spelled out, not read from the library). */
export const learningTrend = (gaps: number) => ({
  mean_gap_seconds: null,
  p95_gap_seconds: null,
  slope: null,
  at_risk: false,
  eta_seconds: null,
  reason: `learning: ${String(gaps)} of 10 gaps`,
});
