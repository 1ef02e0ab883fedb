import { assert } from "../util/assert.ts";

/**
 * Lifeguard's dynamic suspicion timeout (memberlist suspicion.go): with n of k expected independent
 * confirmations, the timeout falls from max towards min as log(n + 1) / log(k + 1), and the time
 * already spent suspecting is subtracted. Result may be negative: the suspicion has expired.
 */
export function remainingSuspicionTimeMs(n: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  assert(n >= 0 && k >= 0, `confirmations n=${n} k=${k} must be >= 0`);
  assert(minMs <= maxMs, `suspicion min ${minMs} > max ${maxMs}`);
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const rawSeconds = maxMs / 1000 - frac * ((maxMs - minMs) / 1000);
  // memberlist floors to whole milliseconds before comparing with the minimum.
  let timeoutMs = Math.floor(1000 * rawSeconds);
  if (timeoutMs < minMs) timeoutMs = minMs;
  return timeoutMs - elapsedMs;
}

/**
 * One suspicion timer, counted in ticks. Confirmations come from distinct members other than the
 * first accuser; each one shortens the deadline. With k = 0 (too few members to expect
 * confirmations, or Lifeguard off) the deadline is the minimum timeout.
 *
 * Invariant: confirmations.size <= k + 1 (the accuser plus k confirmers).
 */
export class Suspicion {
  private readonly confirmations = new Set<string>();
  private n = 0;
  /** Tick at which the suspect is declared dead. */
  deadlineTick: number;

  constructor(
    from: string,
    private readonly k: number,
    private readonly startTick: number,
    private readonly tickMs: number,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    assert(k >= 0, `suspicion k ${k} < 0`);
    assert(minMs > 0 && minMs <= maxMs, `suspicion min ${minMs} max ${maxMs}`);
    this.confirmations.add(from);
    const timeoutMs = k < 1 ? minMs : maxMs;
    this.deadlineTick = startTick + Math.ceil(timeoutMs / tickMs);
  }

  get confirmationCount(): number {
    return this.n;
  }

  /** Records a confirmation; true when it was new and so worth re-gossiping. */
  confirm(from: string, nowTick: number): boolean {
    if (this.n >= this.k) return false;
    if (this.confirmations.has(from)) return false;
    this.confirmations.add(from);
    this.n++;
    const elapsedMs = (nowTick - this.startTick) * this.tickMs;
    const remainingMs = remainingSuspicionTimeMs(this.n, this.k, elapsedMs, this.minMs, this.maxMs);
    this.deadlineTick = nowTick + Math.max(0, Math.ceil(remainingMs / this.tickMs));
    assert(this.confirmations.size <= this.k + 1, `confirmations ${this.confirmations.size} > k+1 ${this.k + 1}`);
    return true;
  }
}
