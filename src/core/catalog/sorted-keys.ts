/**
 * An ordered set of strings for prefix scans (KV `recurse`, `keys`, tombstones under a prefix).
 * Keys live in sorted chunks of at most `chunkMax` entries, so an insert moves at most one chunk
 * instead of the whole array: 100,000 random inserts stay cheap, and a scan is a binary search
 * plus a walk.
 *
 * Invariant: every chunk is non-empty and sorted, and the last key of a chunk < the first key
 * of the next chunk.
 */
import { assert } from "../util/assert.ts";

const chunkMax = 512;

export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts `key`; returns false when it was already present. */
  add(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return true;
    }
    const c = this.chunkFor(key);
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, key);
    if (chunk[at] === key) return false;
    chunk.splice(at, 0, key);
    this.count++;
    if (chunk.length > chunkMax) this.chunks.splice(c, 1, chunk.slice(0, chunkMax / 2), chunk.slice(chunkMax / 2));
    return true;
  }

  /** Removes `key`; returns false when it was absent. */
  delete(key: string): boolean {
    if (this.chunks.length === 0) return false;
    const c = this.chunkFor(key);
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, key);
    if (chunk[at] !== key) return false;
    chunk.splice(at, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** Every key that starts with `prefix`, in order. */
  *withPrefix(prefix: string): Generator<string> {
    if (this.chunks.length === 0) return;
    let c = this.chunkFor(prefix);
    let at = lowerBound(this.chunks[c]!, prefix);
    for (; c < this.chunks.length; c++, at = 0) {
      const chunk = this.chunks[c]!;
      for (; at < chunk.length; at++) {
        const key = chunk[at]!;
        if (!key.startsWith(prefix)) return;
        yield key;
      }
    }
  }

  invariants(): void {
    let total = 0;
    let previous: string | null = null;
    for (const chunk of this.chunks) {
      assert(chunk.length > 0, "SortedKeys: empty chunk");
      assert(chunk.length <= chunkMax, () => `SortedKeys: chunk of ${chunk.length} > ${chunkMax}`);
      for (const key of chunk) {
        assert(previous === null || previous < key, () => `SortedKeys: ${JSON.stringify(previous)} !< ${JSON.stringify(key)}`);
        previous = key;
      }
      total += chunk.length;
    }
    assert(total === this.count, () => `SortedKeys: counted ${total} != size ${this.count}`);
  }

  /** The chunk whose range holds `key`: the last chunk whose first key is <= key, else 0. */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]![0]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function lowerBound(items: readonly string[], key: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
