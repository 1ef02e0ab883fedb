import type { RaftNodeStatus } from "../../src/agent/raft-host.ts";
import type { Entry, Index, NodeId, PersistedState, Snapshot, Term } from "../../src/core/raft/types.ts";

/** Thrown by a checker: the run broke a safety property. */
export class SafetyViolation extends Error {
  override name = "SafetyViolation";
}

/** The persisted log of one node as the checker mirrors it: fingerprints from `firstIndex` on. */
interface MirrorLog {
  firstIndex: Index;
  fingerprints: string[];
  terms: Term[];
}

/**
 * The Raft safety properties of the paper's Figure 3, checked from outside the core by watching
 * what each node persists, applies and reports:
 * - election safety: at most one leader per term;
 * - log matching: two logs with an entry of the same index and term agree on every entry up to it;
 * - leader completeness: a new leader's log holds every entry committed before its term;
 * - state machine safety: every node applies the same entry at each index.
 */
export class RaftSafetyChecker {
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  private readonly committed = new Map<Index, string>();
  private readonly logs = new Map<NodeId, MirrorLog>();
  private readonly leadershipsChecked = new Set<string>();
  checks = 0;

  /** A node started (or restarted): its log is whatever survived on its disk. */
  onStart(node: NodeId, persisted: PersistedState): void {
    const firstIndex = (persisted.snapshot?.meta.index ?? 0) + 1;
    const log: MirrorLog = { firstIndex, fingerprints: [], terms: [] };
    this.logs.set(node, log);
    appendMirror(log, persisted.entries);
  }

  onPersisted(node: NodeId, update: { entries: readonly Entry[]; snapshot?: Snapshot }): void {
    const log = this.logs.get(node)!;
    if (update.snapshot !== undefined) {
      log.firstIndex = update.snapshot.meta.index + 1;
      log.fingerprints = [];
      log.terms = [];
    }
    appendMirror(log, update.entries);
  }

  /** The node compacted its own log up to `index`. */
  onCompacted(node: NodeId, index: Index): void {
    const log = this.logs.get(node)!;
    const drop = Math.min(index + 1 - log.firstIndex, log.terms.length);
    if (drop <= 0) return;
    log.fingerprints.splice(0, drop);
    log.terms.splice(0, drop);
    log.firstIndex += drop;
  }

  onApplied(node: NodeId, entry: Entry): void {
    const fingerprint = fingerprintOf(entry);
    const previous = this.committed.get(entry.index);
    if (previous === undefined) this.committed.set(entry.index, fingerprint);
    else if (previous !== fingerprint) {
      throw new SafetyViolation(`state machine safety: ${node} applied ${fingerprint} at index ${entry.index}, another node applied ${previous}`);
    }
  }

  onStatus(status: RaftNodeStatus): void {
    if (status.role !== "leader") return;
    const holder = this.leaderOfTerm.get(status.term);
    if (holder === undefined) this.leaderOfTerm.set(status.term, status.id);
    else if (holder !== status.id) {
      throw new SafetyViolation(`election safety: ${holder} and ${status.id} are both leaders of term ${status.term}`);
    }
    const key = `${status.id}@${status.term}`;
    if (this.leadershipsChecked.has(key)) return;
    this.leadershipsChecked.add(key);
    this.checkLeaderCompleteness(status.id, status.term);
  }

  private checkLeaderCompleteness(leader: NodeId, term: Term): void {
    const log = this.logs.get(leader)!;
    this.checks++;
    for (const [index, fingerprint] of this.committed) {
      if (index < log.firstIndex) continue;
      const mine = log.fingerprints[index - log.firstIndex];
      if (mine !== fingerprint) {
        throw new SafetyViolation(`leader completeness: ${leader}, leader of term ${term}, has ${mine ?? "nothing"} at committed index ${index} (committed ${fingerprint})`);
      }
    }
  }

  /** Log matching across every pair of nodes; run periodically and at the end. */
  checkLogMatching(): void {
    const nodes = [...this.logs.keys()];
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) this.checkPair(nodes[i]!, nodes[j]!);
    }
  }

  private checkPair(a: NodeId, b: NodeId): void {
    const logA = this.logs.get(a)!;
    const logB = this.logs.get(b)!;
    this.checks++;
    const low = Math.max(logA.firstIndex, logB.firstIndex);
    const high = Math.min(logA.firstIndex + logA.terms.length, logB.firstIndex + logB.terms.length) - 1;
    let matchHigh = -1;
    for (let index = high; index >= low; index--) {
      if (logA.terms[index - logA.firstIndex] === logB.terms[index - logB.firstIndex]) {
        matchHigh = index;
        break;
      }
    }
    for (let index = low; index <= matchHigh; index++) {
      const fa = logA.fingerprints[index - logA.firstIndex];
      const fb = logB.fingerprints[index - logB.firstIndex];
      if (fa !== fb) {
        throw new SafetyViolation(`log matching: ${a} and ${b} agree at index ${matchHigh} but differ at ${index} (${fa} vs ${fb})`);
      }
    }
  }
}

function appendMirror(log: MirrorLog, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  const start = entries[0]!.index - log.firstIndex;
  if (start < 0) {
    // Entries at or below the mirror's first index are covered by a snapshot; keep the tail only.
    appendMirror(log, entries.filter((e) => e.index >= log.firstIndex));
    return;
  }
  if (start > log.terms.length) {
    throw new SafetyViolation(`persisted entries start at ${entries[0]!.index}, leaving a gap after ${log.firstIndex + log.terms.length - 1}`);
  }
  log.terms.length = start;
  log.fingerprints.length = start;
  for (const entry of entries) {
    log.terms.push(entry.term);
    log.fingerprints.push(fingerprintOf(entry));
  }
}

/** term/type/hash of the data: equal fingerprints mean the same command at the same index. */
export function fingerprintOf(entry: Entry): string {
  return `${entry.term}/${entry.type}/${fnv1a(entry.data).toString(16)}`;
}

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
