import test from "ava";
import { Harness } from "./harness.ts";

const three = ["n1", "n2", "n3"];

test("restart: every node crashes and restarts from disk; nothing acknowledged is lost", (t) => {
  const c = new Harness(three, { seed: 61 });
  c.electLeader();
  for (let i = 0; i < 20; i++) c.propose(`v${i}`);
  const term = c.leader()!.status().term;
  for (const id of three) c.crash(id);
  for (const id of three) c.start(id);
  for (const id of three) t.is(c.node(id).status().term, term, `${id} remembers its term`);
  c.electLeader();
  c.tick(3);
  for (const id of three) t.deepEqual(c.applied.get(id), Array.from({ length: 20 }, (_, i) => `v${i}`));
});

test("restart: a node that voted in a term does not vote for someone else in it after a restart", (t) => {
  const c = new Harness(three, { seed: 62 });
  const n3 = c.node("n3");
  c.tick(20, ["n3"]); // past the start-up guard (a fresh node ignores votes for a heartbeat timeout)
  n3.step({ type: "vote", from: "n1", to: "n3", term: 5, index: 0, logTerm: 0 });
  c.drain();
  t.deepEqual(c.disks.get("n3")!.hardState, { term: 5, vote: "n1", commit: 0 }, "the vote was persisted with its response");
  c.queue = [];
  c.crash("n3");
  const again = c.start("n3");
  c.tick(25, ["n3"]); // past the restart guard, but within term 5
  again.step({ type: "vote", from: "n2", to: "n3", term: 5, index: 0, logTerm: 0 });
  const rd = again.ready();
  const answer = rd.messages.find((m) => m.type === "voteResp" && m.to === "n2");
  t.true(answer?.reject === true, "the second candidate of term 5 is refused");
});

test("restart: a just-restarted node does not grant votes before a heartbeat timeout", (t) => {
  const c = new Harness(three, { seed: 63 });
  c.electLeader();
  c.crash("n3");
  const n3 = c.start("n3");
  const term = n3.status().term;
  n3.step({ type: "vote", from: "n1", to: "n3", term: term + 1, index: 100, logTerm: term });
  t.is(n3.status().term, term, "ignored: it may have acknowledged a leader's lease just before crashing");
});
