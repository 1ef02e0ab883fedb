import type { Index, NodeId, ReadMode } from "../../src/core/raft/types.ts";
import { SafetyViolation } from "./raft-safety.ts";

/** What the cluster knew when a read began. */
export interface ReadStart {
  readonly node: NodeId;
  readonly mode: ReadMode;
  readonly atMs: number;
  /** The highest commit index any server had reported when the read began. */
  readonly committed: Index;
  readonly committedBy: NodeId | null;
}

/**
 * Read freshness, the contract of a linearizable read (ReadIndex or lease; Raft thesis §6.4): an
 * answer must reflect every entry committed before the read began. Judged from outside the cores:
 * the highest commit index any server has reported (a committed entry stays committed, whoever
 * reported it and whatever happens to that server afterwards) against the index a read is answered
 * at. Stricter than the linearizability checker, which sees a stale read only when a client wrote
 * a newer value of the same key in between: a deposed leader that serves a lease read after the
 * new leader committed anything at all (its election noop included) is caught here.
 */
export class ReadFreshnessChecker {
  private committed: Index = 0;
  private committedBy: NodeId | null = null;
  reads = 0;

  /** A server reported its commit index. */
  onCommit(node: NodeId, commit: Index): void {
    if (commit <= this.committed) return;
    this.committed = commit;
    this.committedBy = node;
  }

  begin(node: NodeId, mode: ReadMode, atMs: number): ReadStart {
    return { node, mode, atMs, committed: this.committed, committedBy: this.committedBy };
  }

  /** The read that began at `start` was answered at read index `index`. */
  answered(start: ReadStart, index: Index, nowMs: number): void {
    this.reads++;
    if (index >= start.committed) return;
    throw new SafetyViolation(
      `read freshness: ${start.node} answered a ${start.mode} read begun at ${start.atMs} ms at index ${index} (at ${nowMs} ms), ` +
      `but ${start.committedBy ?? "a server"} had committed index ${start.committed} before it began`);
  }
}
