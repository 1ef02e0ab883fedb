/**
 * How much heartbeat-round bookkeeping a leader keeps. Every round's send tick is remembered so an
 * acknowledgement can refresh the lease and check-quorum's contact; a round sent an election
 * timeout ago or earlier can do neither, so it is forgotten. The memory a leader holds for this is
 * therefore bounded by the rounds of one election timeout, however long it leads and however many
 * reads start rounds of their own.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Message } from "../../src/core/raft/types.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { drainMessages, driveToLeader, persistedState } from "./harness.ts";

/** Exposes the rounds whose send ticks the leader still holds. */
class RoundBook extends RaftNode {
  roundsKept(): number[] {
    return [...this.roundSentTick.keys()];
  }
}

const electionTimeoutTicks = 20; // defaults: 1000 ms in 50 ms ticks

/** Rounds (heartbeat ctx) sent to n2 in these messages. */
const roundsTo = (messages: readonly Message[]): number[] =>
  messages.filter((m) => m.type === "heartbeat" && m.to === "n2").map((m) => Number(m.ctx));

test("round history: a leader keeps the send ticks of exactly the rounds of the last election timeout, with or without read load", (t) => {
  const node = new RoundBook(defaultRaftConfig("n1"), persistedState(), mulberry32(47));
  driveToLeader(node);
  node.step({ type: "appendResp", from: "n2", to: "n1", term: 1, index: 1 });
  drainMessages(node);
  t.is(node.status().commit, 1, "the noop is committed, so reads are served");

  const sentAt = new Map<number, number>();
  let lastRoundTick: number | null = null;
  let periodicOnlyKept = 0;
  for (let tick = 1; tick <= 120; tick++) {
    node.tick();
    // Ticks 50-79 carry three ReadIndex reads each: rounds of their own between the periodic ones.
    if (tick >= 50 && tick < 80) for (let r = 0; r < 3; r++) node.readIndex(`t${tick}r${r}`, "readIndex");
    let sent = roundsTo(drainMessages(node));
    while (sent.length > 0) {
      for (const round of sent) {
        sentAt.set(round, tick);
        lastRoundTick = tick;
        node.step({ type: "heartbeatResp", from: "n2", to: "n1", term: 1, ctx: String(round) });
      }
      sent = roundsTo(drainMessages(node)); // a confirmed read round may start the next batch at once
    }
    t.is(node.status().role, "leader", `tick ${tick}: n2's acknowledgements keep n1 in contact with a quorum`);
    if (lastRoundTick === null) continue;
    const young = [...sentAt].filter(([, at]) => lastRoundTick! - at < electionTimeoutTicks).map(([round]) => round);
    t.deepEqual(node.roundsKept(), young, `tick ${tick}: rounds sent in the ${electionTimeoutTicks} ticks before the newest one`);
    if (tick === 40) periodicOnlyKept = node.roundsKept().length;
  }
  t.is(periodicOnlyKept, 10, "with only the periodic heartbeat (every 2 ticks), ten rounds are kept");
  t.true(sentAt.size > 60 + 30, `reads started rounds of their own (${sentAt.size} rounds in all)`);
  t.is(node.roundsKept().length, 10, "once the reads stop, the history shrinks back to ten rounds");
});
