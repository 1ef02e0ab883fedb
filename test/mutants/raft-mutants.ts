/**
 * Test-only mutants of the Raft core: each subclass overrides exactly one protected decision point
 * of RaftNode (listed at the top of src/core/raft/node.ts) to plant one classic Raft bug. The
 * production code carries no bug switches; the simulator must catch every one of these.
 */
import { RaftNode, type ReadRequest } from "../../src/core/raft/node.ts";
import type { Progress } from "../../src/core/raft/progress.ts";
import { quorumValue } from "../../src/core/raft/quorum.ts";
import type { Entry, HardState, Index, Message, PersistedState, RaftConfig, Term } from "../../src/core/raft/types.ts";
import type { Rng } from "../../src/core/util/rng.ts";

export interface RaftMutant {
  readonly name: string;
  readonly description: string;
  readonly make: (config: RaftConfig, persisted: PersistedState, rng: Rng) => RaftNode;
}

/** Grants votes to candidates whose log is behind (§5.4.1 dropped): elected leaders may lack committed entries. */
class VoteWithoutLogCheck extends RaftNode {
  protected override isLogUpToDate(_lastIndex: Index, _lastTerm: Term): boolean {
    return true;
  }
}

/**
 * Commits by counting replicas whatever the entry's term: the paper's Figure 8. Without the
 * election noop, as in the figure, since a noop replicated with the old entries mostly hides it.
 */
class CommitPreviousTerm extends RaftNode {
  protected override maybeCommit(): boolean {
    const quorumMatch = quorumValue(this.confs.current().voters, (id) => this.progress.get(id)?.match ?? 0);
    return this.log.commitTo(quorumMatch);
  }

  protected override appendElectionNoop(): void {}
}

/**
 * Reports term changes but never the vote: the vote response goes out while the vote is not
 * durable, so after a crash the node can vote again in the same term.
 */
class ReplyBeforePersistingVote extends RaftNode {
  protected override hardStateForReady(): HardState {
    const sameTerm = this.prevHardState.term === this.term;
    return { term: this.term, vote: sameTerm ? this.prevHardState.vote : null, commit: this.log.commit };
  }
}

/** A leader that sees a higher term adopts it but keeps leading: two leaders in one term. */
class LeaderIgnoresHigherTerm extends RaftNode {
  protected override stepDownOnHigherTerm(m: Message): void {
    if (this.role !== "leader") {
      super.stepDownOnHigherTerm(m);
      return;
    }
    this.setTerm(m.term);
    this.vote = this.id;
  }
}

/**
 * Takes a stale (reordered or duplicated) append at face value: it drops everything after the
 * append's entries, committed or not.
 */
class TruncateCommittedOnStaleAppend extends RaftNode {
  protected override handleAppendEntries(m: Message): void {
    const lastNew = this.appendFromLeader(m.index!, m.logTerm!, m.entries!, m.commit!);
    if (lastNew !== null) this.send({ type: "appendResp", to: m.from, index: lastNew });
    else this.send({ type: "appendResp", to: m.from, index: m.index!, reject: true, rejectHint: Math.min(m.index!, this.log.lastIndex()) });
  }

  protected override appendFromLeader(prevIndex: Index, prevTerm: Term, entries: readonly Entry[], commit: Index): Index | null {
    if (!this.log.matchTerm(prevIndex, prevTerm)) return null;
    if (prevIndex + 1 <= this.log.lastIndex()) this.confs.truncateFrom(prevIndex + 1);
    this.log.replaceFrom(prevIndex + 1, entries);
    for (const entry of entries) this.confs.onAppend(entry);
    const lastNew = prevIndex + entries.length;
    this.log.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }
}

/** Serves ReadIndex reads at once, without a heartbeat round proving it still leads. */
class ReadIndexWithoutConfirmation extends RaftNode {
  protected override confirmReadIndex(request: ReadRequest): void {
    this.serveRead(request, this.log.commit);
  }
}

/**
 * Issue 14 defect 1 reverted: accepts a membership change while the new leader's own noop is
 * uncommitted (only an uncommitted change in its log blocks it), so a change from a deposed
 * leader and one from the new leader can commit off different bases (Ongaro, raft-dev 2015).
 */
class ConfChangeBeforeTermCommit extends RaftNode {
  protected override confChangeAllowedInTerm(): boolean {
    return true;
  }
}

/**
 * Issue 14 defect 2 reverted: the lease lasts the followers' whole timeout, as the old validator
 * allowed (leaderLeaseTimeoutMs == heartbeatTimeoutMs), leaving no margin for one tick of phase
 * offset or any clock drift.
 */
class LeaseWithoutMargin extends RaftNode {
  protected override leaseTicks(): number {
    return this.ticks.heartbeatTimeoutTicks;
  }
}

/**
 * Issue 14 defect 3 reverted: every ReadIndex read starts its own heartbeat round, and only the
 * last 64 rounds keep their send tick, so under read load acknowledgements refresh neither the
 * lease nor check-quorum's contact and a connected leader steps down.
 */
class ReadRoundPerRequest extends RaftNode {
  protected override readRoundNeeded(): boolean {
    return true;
  }

  protected override pruneRoundHistory(): void {
    const newest = Math.max(...this.roundSentTick.keys());
    this.roundSentTick.delete(newest - 64);
  }
}

/**
 * Issue 14 defect 4 reverted: a follower's last advance moves only when its match grows, so the
 * first entry after an idle spell finds every caught-up follower "stalled" and re-sends to it.
 */
class ProbeAfterIdle extends RaftNode {
  protected override replicationStalled(pr: Progress, lastIndex: Index): boolean {
    return pr.state === "replicate" && pr.match < lastIndex && this.nowTick - pr.lastAdvanceTick >= this.ticks.replicationStallTicks;
  }
}

const mutant = (name: string, description: string, Node: typeof RaftNode): RaftMutant => ({
  name, description, make: (config, persisted, rng) => new Node(config, persisted, rng),
});

export const raftMutants: readonly RaftMutant[] = [
  mutant("vote-without-log-check", "grants a vote without the candidate's log being up to date", VoteWithoutLogCheck),
  mutant("commit-previous-term", "commits a previous-term entry by counting replicas (Figure 8)", CommitPreviousTerm),
  mutant("reply-before-persisting-vote", "sends the vote response before the vote is persisted", ReplyBeforePersistingVote),
  mutant("leader-ignores-higher-term", "a leader does not step down on a higher term", LeaderIgnoresHigherTerm),
  mutant("truncate-committed-on-stale-append", "a follower truncates committed entries on a stale AppendEntries", TruncateCommittedOnStaleAppend),
  mutant("read-index-without-confirmation", "serves a ReadIndex read without confirming leadership", ReadIndexWithoutConfirmation),
  mutant("lease-without-margin", "holds the lease for the followers' whole election timeout, no tick or drift margin", LeaseWithoutMargin),
  mutant("read-round-per-request", "starts a heartbeat round per ReadIndex read and keeps only 64 rounds' send ticks", ReadRoundPerRequest),
  mutant("probe-after-idle", "drops caught-up followers to probe on the first entry after an idle spell", ProbeAfterIdle),
  mutant("conf-change-before-term-commit", "accepts a membership change before the leader committed an entry of its term", ConfChangeBeforeTermCommit),
];
