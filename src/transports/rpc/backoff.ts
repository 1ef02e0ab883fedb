export interface BackoffConfig {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** No delay exceeds this, however many failures. */
  readonly capMs: number;
}

/**
 * Delay before redialing after `failures` consecutive failed dials (>= 1): the base doubled per
 * failure up to the cap, then "equal jitter" (a uniform draw in [d/2, d]) so that servers
 * restarted together do not redial in lockstep. `random` returns [0, 1).
 */
export function backoffDelayMs(failures: number, config: BackoffConfig, random: () => number): number {
  if (!(Number.isInteger(failures) && failures >= 1)) throw new RangeError(`backoff after ${failures} failures, want an integer >= 1`);
  if (!(config.baseMs > 0 && config.capMs >= config.baseMs)) throw new RangeError(`backoff base ${config.baseMs} ms, cap ${config.capMs} ms`);
  // 2 ** 30 already exceeds any sane cap; clamping the exponent keeps the product finite.
  const ceilingMs = Math.min(config.capMs, config.baseMs * 2 ** Math.min(failures - 1, 30));
  return ceilingMs / 2 + (ceilingMs / 2) * random();
}
