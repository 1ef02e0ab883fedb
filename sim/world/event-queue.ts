import { assert } from "../../src/core/util/assert.ts";

export interface SimEvent {
  readonly atMs: number;
  /** Insertion order: breaks ties between events at the same instant, deterministically. */
  readonly seq: number;
  readonly run: () => void;
}

/** A binary min-heap of events ordered by (atMs, seq). */
export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seqNext = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, run: () => void): void {
    assert(Number.isFinite(atMs), `event time ${atMs} is not finite`);
    const event: SimEvent = { atMs, seq: this.seqNext++, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  peekMs(): number | null {
    return this.heap.length === 0 ? null : this.heap[0]!.atMs;
  }

  pop(): SimEvent | null {
    const heap = this.heap;
    if (heap.length === 0) return null;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) siftDown(heap, last);
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function siftDown(heap: SimEvent[], event: SimEvent): void {
  const n = heap.length;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
    if (!before(heap[child]!, event)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = event;
}
