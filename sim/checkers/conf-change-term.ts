import type { RaftNodeStatus } from "../../src/agent/raft-host.ts";
import { decodeConfEntry } from "../../src/core/raft/confchange.ts";
import type { Entry, Index, NodeId, Term } from "../../src/core/raft/types.ts";
import { SafetyViolation } from "./raft-safety.ts";

/**
 * The rule that makes one-server membership changes safe across leader changes (Raft thesis
 * errata; Ongaro on raft-dev, 2015; hashicorp/raft refuses likewise): a leader appends a
 * configuration entry only once it has committed an entry of its own term. Before that, a change a
 * deposed leader left on a minority may still commit, and a second change off the older base gives
 * two configurations whose majorities do not overlap: two leaders then commit different entries
 * at one index. That end needs a rare run of partitions; the broken rule itself shows in every
 * history where a new leader is asked for a change at once, so this checker judges the rule.
 *
 * Judged from outside the core, from what each node persists and the role, term and commit index
 * it reports: when a leader of term T persists a configuration entry of term T, its commit index
 * must have reached its first entry of term T (its election noop). A node's commit index only
 * grows, so when saves are asynchronous (the persist reported a sync later) this can miss a
 * violation but never invent one.
 */
export class ConfChangeTermChecker {
  /** Per node, the first index of the newest term it persisted entries of while leading it. */
  private readonly termStart = new Map<NodeId, { readonly term: Term; readonly index: Index }>();
  checks = 0;

  /** A node (re)started: whatever it led before, it leads nothing now. */
  onStart(node: NodeId): void {
    this.termStart.delete(node);
  }

  /** `status` is the node's state as the save completes (null when the host is not up yet). */
  onPersisted(node: NodeId, entries: readonly Entry[], status: () => RaftNodeStatus | null): void {
    if (entries.length === 0) return;
    const known = this.termStart.get(node);
    const newTerm = entries.some((e) => e.term > (known?.term ?? 0));
    const hasConfig = entries.some((e) => e.type === "config");
    if (!newTerm && !hasConfig) return;
    const st = status();
    if (st === null || st.role !== "leader") return;
    // A leader persists its own term's entries in the order it appended them: the first is its noop.
    const first = entries.find((e) => e.term === st.term);
    if (first !== undefined && (known === undefined || known.term < st.term)) this.termStart.set(node, { term: st.term, index: first.index });
    const start = this.termStart.get(node);
    for (const entry of entries) {
      if (entry.type !== "config" || entry.term !== st.term || start?.term !== st.term) continue;
      this.checks++;
      if (st.commit >= start.index) continue;
      const change = decodeConfEntry(entry.data)?.change;
      throw new SafetyViolation(
        `configuration change before term commit: ${node}, leader of term ${st.term}, appended config entry ${entry.index} ` +
        `(${change === undefined ? "undecodable" : `${change.type} ${change.node}`}) with its commit index at ${st.commit}, ` +
        `below its first entry of the term (${start.index}): a change a deposed leader left on a minority may still commit`,
      );
    }
  }
}
