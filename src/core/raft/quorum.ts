import { assert } from "../util/assert.ts";
import type { NodeId } from "./types.ts";

/** A majority of `voterCount` voters. */
export function quorumSize(voterCount: number): number {
  assert(Number.isInteger(voterCount) && voterCount >= 1, `quorumSize: voterCount ${voterCount} < 1`);
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest value that a majority of voters have reached: sort the voters' values descending
 * and take the quorum-th. Used for the commit index (match indexes), the acknowledged heartbeat
 * round (ReadIndex) and the lease's last quorum contact.
 */
export function quorumValue(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  assert(voters.length >= 1, "quorumValue: no voters");
  const values = voters.map(valueOf).sort((a, b) => b - a);
  const value = values[quorumSize(voters.length) - 1];
  assert(value !== undefined, `quorumValue: no value at ${quorumSize(voters.length) - 1} of ${values.length}`);
  return value;
}

export type VoteResult = "won" | "lost" | "pending";

/** Tally of a (pre-)election: only voters' answers count. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const quorum = quorumSize(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted += 1;
    if (vote === false) rejected += 1;
  }
  if (granted >= quorum) return "won";
  if (rejected > voters.length - quorum) return "lost";
  return "pending";
}
