/**
 * Runs wake-ups at most `perTurn` per event-loop turn. A write to a key with 10,000 watchers on
 * a server wakes them all in one microtask (query-share.ts); each answer then runs to its socket
 * write before the event loop sees anything else, so Raft, gossip and the next write's own
 * answer waited behind the whole wake. Here the first `perTurn` run at once (a small group pays
 * nothing), the rest in later turns, between which timers and sockets get their turn.
 */
export class WakeTurns {
  private readonly queue: (() => void)[] = [];
  private head = 0;
  private ranThisTurn = 0;
  private turnScheduled = false;

  constructor(private readonly perTurn = 256) {
    if (!(perTurn >= 1)) throw new Error(`WakeTurns: perTurn must be at least 1, got ${perTurn}`);
  }

  /** Jobs waiting for a later turn. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  run(job: () => void): void {
    if (this.ranThisTurn < this.perTurn && this.pending === 0) {
      this.ranThisTurn++;
      this.scheduleTurn();
      job();
      return;
    }
    this.queue.push(job);
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.nextTurn());
  }

  private nextTurn(): void {
    this.turnScheduled = false;
    this.ranThisTurn = 0;
    const end = Math.min(this.queue.length, this.head + this.perTurn);
    while (this.head < end) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = noop;
      this.ranThisTurn++;
      job();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (this.pending > 0 || this.ranThisTurn > 0) this.scheduleTurn();
  }
}

const noop = (): void => {};
