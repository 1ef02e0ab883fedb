/**
 * Each planted bug in test/mutants/raft-mutants.ts changes behaviour in a scenario where the
 * production node is correct: so the catalogue holds real bugs, not equivalent mutants.
 */
import test from "ava";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Message, PersistedState, RaftConfig } from "../../src/core/raft/types.ts";
import { mulberry32, type Rng } from "../../src/core/util/rng.ts";
import { raftMutants } from "../mutants/raft-mutants.ts";
import { Harness, driveToLeader, log } from "./harness.ts";

type Make = (config: RaftConfig, persisted: PersistedState, rng: Rng) => RaftNode;
const production: Make = (config, persisted, rng) => new RaftNode(config, persisted, rng);
const conf = { voters: ["n1", "n2", "n3"], learners: [] };

function mutantNamed(name: string): Make {
  const found = raftMutants.find((m) => m.name === name);
  if (found === undefined) throw new Error(`no mutant ${name}`);
  return found.make;
}

function nodeWith(make: Make, persisted: Partial<PersistedState>, id = "n1"): RaftNode {
  return make(defaultRaftConfig(id), { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], initialConf: conf, ...persisted }, mulberry32(3));
}

/** Past the start-up guard, without campaigning. */
function settleIn(node: RaftNode): void {
  for (let i = 0; i < 20; i++) node.tick();
  if (node.hasReady()) node.advance(node.ready());
}

test("mutants: the catalogue has at least six named, described bugs", (t) => {
  t.true(raftMutants.length >= 6);
  t.is(new Set(raftMutants.map((m) => m.name)).size, raftMutants.length);
  for (const m of raftMutants) t.true(m.description.length > 10);
});

function voteFromShortLog(make: Make): boolean | undefined {
  const node = nodeWith(make, { hardState: { term: 2, vote: null, commit: 0 }, entries: log("1 2 2") });
  settleIn(node);
  node.step({ type: "vote", from: "n2", to: "n1", term: 3, index: 1, logTerm: 1 });
  return node.ready().messages.find((m) => m.type === "voteResp")?.reject;
}

test("mutant vote-without-log-check grants a vote to a candidate that lacks entries", (t) => {
  t.true(voteFromShortLog(production));
  t.is(voteFromShortLog(mutantNamed("vote-without-log-check")), undefined);
});

function figure8Commit(make: Make): number {
  const node = nodeWith(make, { hardState: { term: 2, vote: null, commit: 1 }, entries: log("1 2") });
  driveToLeader(node);
  const next = node.status().progress!["n2"]!.next;
  node.step({ type: "appendResp", from: "n2", to: "n1", term: 3, index: next - 1 });
  return node.status().commit;
}

test("mutant commit-previous-term commits a term-2 entry by counting replicas", (t) => {
  t.is(figure8Commit(production), 1);
  t.is(figure8Commit(mutantNamed("commit-previous-term")), 2);
});

function persistedVote(make: Make): string | null | undefined {
  const node = nodeWith(make, {});
  settleIn(node);
  node.step({ type: "vote", from: "n2", to: "n1", term: 1, index: 0, logTerm: 0 });
  const rd = node.ready();
  if (!rd.messages.some((m) => m.type === "voteResp" && m.reject !== true)) throw new Error("vote not granted");
  return rd.hardState?.vote;
}

test("mutant reply-before-persisting-vote sends the vote without handing the vote to storage", (t) => {
  t.is(persistedVote(production), "n2");
  t.is(persistedVote(mutantNamed("reply-before-persisting-vote")), null);
});

function roleAfterHigherTerm(make: Make): string {
  const node = nodeWith(make, { hardState: { term: 2, vote: null, commit: 1 }, entries: log("1 2") });
  driveToLeader(node);
  node.step({ type: "appendResp", from: "n3", to: "n1", term: 9, index: 0 });
  return `${node.status().role}@${node.status().term}`;
}

test("mutant leader-ignores-higher-term keeps leading in a term it did not win", (t) => {
  t.is(roleAfterHigherTerm(production), "follower@9");
  t.is(roleAfterHigherTerm(mutantNamed("leader-ignores-higher-term")), "leader@9");
});

function staleAppend(make: Make): string {
  const node = nodeWith(make, { hardState: { term: 2, vote: "n2", commit: 0 }, entries: [] }, "n1");
  const append = (index: number, entries: string, commit: number): Message => ({
    type: "append", from: "n2", to: "n1", term: 2, index, logTerm: index === 0 ? 0 : 2, entries: entries === "" ? [] : log(entries, index + 1), commit,
  });
  node.step(append(0, "2 2 2", 3));
  node.step(append(0, "2", 0)); // a delayed copy of an earlier, shorter append
  try {
    node.invariants();
    return `lastIndex ${node.status().lastIndex}`;
  } catch (error) {
    return `invariant: ${(error as Error).message.includes("commit 3 > lastIndex 1")}`;
  }
}

test("mutant truncate-committed-on-stale-append loses committed entries (the core's invariants notice)", (t) => {
  t.is(staleAppend(production), "lastIndex 3");
  t.is(staleAppend(mutantNamed("truncate-committed-on-stale-append")), "invariant: true");
});

function readsWithoutRound(make: Make): number {
  const c = new Harness(["n1", "n2", "n3"], { seed: 71, make });
  const leader = c.electLeader();
  leader.readIndex("r", "readIndex");
  c.drain();
  return c.reads.get(leader.id)!.length;
}

test("mutant read-index-without-confirmation answers before any heartbeat round", (t) => {
  t.is(readsWithoutRound(production), 0);
  t.is(readsWithoutRound(mutantNamed("read-index-without-confirmation")), 1);
});

// ---------------------------------------------------------------- issue 14's planted bugs

/** After 40 idle ticks, one proposal whose appends are still in flight at the next tick: how many followers went back to probe? */
function probesAfterIdle(make: Make): number {
  const c = new Harness(["n1", "n2", "n3"], { seed: 72, make });
  const leader = c.electLeader();
  c.tick(40);
  leader.propose(new TextEncoder().encode("after a quiet spell"));
  c.drain(); // the appends are queued, not yet delivered
  leader.tick();
  return leader.marksHit().get("replication stalled: probe") ?? 0;
}

test("mutant probe-after-idle drops caught-up followers to probe on the first tick after an idle spell (issue 14 defect 4)", (t) => {
  t.is(probesAfterIdle(production), 0);
  t.is(probesAfterIdle(mutantNamed("probe-after-idle")), 2);
});

/** Ticks after a quorum's acknowledgement during which a lease read is served locally. */
function leaseLengthTicks(make: Make): number {
  const c = new Harness(["n1", "n2", "n3"], { seed: 73, make });
  const leader = c.electLeader();
  c.tick(2);
  for (const id of ["n1", "n2", "n3"]) if (id !== leader.id) c.isolate(id);
  let ticks = 0;
  while (leader.status().leaseValid === true && ticks < 100) {
    leader.tick();
    ticks += 1;
  }
  return ticks;
}

test("mutant lease-without-margin keeps its lease for the whole election timeout (issue 14 defect 2)", (t) => {
  const production_ = leaseLengthTicks(production);
  const mutant_ = leaseLengthTicks(mutantNamed("lease-without-margin"));
  t.true(production_ <= 10, `production lease lasted ${production_} ticks`);
  t.true(mutant_ >= 18, `mutant lease lasted ${mutant_} ticks`);
});

/** Heartbeat rounds a leader sends for 10 ReadIndex reads arriving together. */
function roundsForTenReads(make: Make): number {
  const c = new Harness(["n1", "n2", "n3"], { seed: 74, make });
  const leader = c.electLeader();
  c.tick(1);
  c.drain();
  c.queue = [];
  for (let i = 0; i < 10; i++) leader.readIndex(`r${i}`, "readIndex");
  c.drain();
  return c.queue.filter((m) => m.type === "heartbeat" && m.to !== leader.id).length / 2;
}

test("mutant read-round-per-request sends a heartbeat round for every read (issue 14 defect 3)", (t) => {
  t.is(roundsForTenReads(production), 1);
  t.is(roundsForTenReads(mutantNamed("read-round-per-request")), 10);
});

/**
 * Issue 14 defect 3 through the public API: 40 reads per tick (half lease, half ReadIndex) at a
 * leader whose messages take two ticks each way. Returns the leader's role after 200 ticks.
 */
function roleUnderReadLoad(make: Make): string {
  const c = new Harness(["n1", "n2", "n3"], { seed: 75, make });
  const leader = c.electLeader();
  const inFlight: Message[][] = [[], [], [], []];
  for (let tick = 0; tick < 200 && leader.status().role === "leader"; tick++) {
    for (let i = 0; i < 40; i++) leader.readIndex(`t${tick}r${i}`, i % 2 === 0 ? "lease" : "readIndex");
    for (const node of c.nodes.values()) node.tick();
    c.drain();
    inFlight.push(c.queue);
    c.queue = [];
    for (const m of inFlight.shift()!) c.deliver(m);
    c.drain();
    inFlight[inFlight.length - 1]!.push(...c.queue);
    c.queue = [];
  }
  return `${leader.status().role}/${leader.status().term}`;
}

test("mutant read-round-per-request: read load with two-tick message delays deposes a connected leader; batched rounds do not", (t) => {
  const production_ = roleUnderReadLoad(production);
  t.regex(production_, /^leader\//, `production: ${production_}`);
  const mutant_ = roleUnderReadLoad(mutantNamed("read-round-per-request"));
  t.regex(mutant_, /^follower\//, `mutant: ${mutant_}`);
});
