/**
 * A counting semaphore for check runs: at most `slotsMax` probes (processes, sockets) at once;
 * the rest wait in arrival order. A waiter whose signal aborts leaves the queue without a slot.
 * Invariant: 0 <= active <= slotsMax, and the queue is empty whenever active < slotsMax.
 */
export class BoundedPool {
  private activeCount = 0;
  private peak = 0;
  private readonly waiters: Array<{ grant: (release: () => void) => void; signal: AbortSignal; onAbort: () => void }> = [];

  constructor(readonly slotsMax: number) {
    if (!Number.isInteger(slotsMax) || slotsMax < 1) throw new RangeError(`check pool size ${slotsMax} must be a whole number >= 1`);
  }

  get active(): number {
    return this.activeCount;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** The most runs ever in flight together, for tests and metrics. */
  get peakActive(): number {
    return this.peak;
  }

  /** Resolves with a release function once a slot is free, or null if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<(() => void) | null> {
    if (signal.aborted) return Promise.resolve(null);
    if (this.activeCount < this.slotsMax) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      const waiter = {
        grant: (release: () => void) => resolve(release),
        signal,
        onAbort: () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          resolve(null);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private take(): () => void {
    this.activeCount++;
    this.peak = Math.max(this.peak, this.activeCount);
    this.checkInvariants();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.activeCount--;
      const next = this.waiters.shift();
      if (next !== undefined) {
        next.signal.removeEventListener("abort", next.onAbort);
        next.grant(this.take());
      }
      this.checkInvariants();
    };
  }

  private checkInvariants(): void {
    if (this.activeCount < 0 || this.activeCount > this.slotsMax) {
      throw new Error(`check pool: active ${this.activeCount} outside [0, ${this.slotsMax}]`);
    }
    if (this.activeCount < this.slotsMax && this.waiters.length > 0) {
      throw new Error(`check pool: ${this.waiters.length} waiting with only ${this.activeCount} of ${this.slotsMax} slots taken`);
    }
  }
}
