import test from "ava";
import { RaftHost, defaultRaftHostConfig, type ProposeOutcome, type ReadOutcome } from "../../src/agent/raft-host.ts";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Entry, HardState, Message, Snapshot } from "../../src/core/raft/types.ts";
import type { KvResult } from "../../sim/checkers/history.ts";
import { SimNetwork } from "../../sim/network.ts";
import { describeMessage } from "../../sim/raft-core.ts";
import { encodeCommand, KvStateMachine } from "../../sim/scenarios/kv-state-machine.ts";
import { MemRaftStorage } from "../../sim/storage/mem-storage.ts";
import { WorldRng } from "../../sim/world/rng.ts";
import { World } from "../../sim/world/world.ts";

const ids = ["n1", "n2", "n3"];
const conf = { voters: ids, learners: [] };

/** Storage that logs every save and compaction, so a test can check what was durable when. */
class LoggedStorage extends MemRaftStorage {
  durableTerm = 0;
  compactions: number[] = [];
  override save(update: { hardState?: HardState; entries: readonly Entry[]; snapshot?: Snapshot }): void {
    super.save(update);
    if (update.hardState !== undefined) this.durableTerm = update.hardState.term;
  }
  override compact(snapshot: Snapshot): void {
    super.compact(snapshot);
    this.compactions.push(snapshot.meta.index);
  }
}

/** Three hosts over a lossless simulated network, ticked every 50 ms. */
function cluster(snapshotEveryEntries = 1024) {
  const world = new World(11);
  const network = new SimNetwork<Message>(world, new WorldRng(11, "net"), { delayMinMs: 1, delayMaxMs: 5 }, describeMessage);
  const sent: { from: string; term: number; durableTerm: number }[] = [];
  const hosts = ids.map((id) => {
    const storage = new LoggedStorage();
    const endpoint = network.open(id);
    const send = endpoint.send.bind(endpoint);
    endpoint.send = (to, m) => {
      // Pre-vote asks for (and answers about) a term it does not adopt, so nothing is durable for it.
      if (m.type !== "preVote" && m.type !== "preVoteResp") sent.push({ from: id, term: m.term, durableTerm: storage.durableTerm });
      send(to, m);
    };
    const sm = new KvStateMachine();
    const host = new RaftHost<KvResult>(storage, endpoint, sm,
      (p) => new RaftNode(defaultRaftConfig(id), { ...p, initialConf: conf }, new WorldRng(11, id)),
      defaultRaftHostConfig({ snapshotEveryEntries, requestTimeoutTicks: 40 }));
    const tick = (): void => { host.tick(); world.after(50, tick); };
    world.after(50, tick);
    return { id, host, sm, storage };
  });
  const leader = () => hosts.find((h) => h.host.node.status().role === "leader");
  return { world, hosts, sent, leader };
}

test("raft host: a message never carries a term that is not yet durable (persist before send)", (t) => {
  const { world, sent, leader } = cluster();
  world.runUntil(5_000);
  t.truthy(leader());
  t.true(sent.length > 50);
  for (const s of sent) t.true(s.term <= s.durableTerm, `${s.from} sent term ${s.term} with durable term ${s.durableTerm}`);
});

test("raft host: a proposal on the leader resolves applied with the state machine's result", (t) => {
  const { world, leader, hosts } = cluster();
  world.runUntil(5_000);
  const outcomes: ProposeOutcome<KvResult>[] = [];
  leader()!.host.propose(encodeCommand({ kind: "put", key: "a", value: "1" }), (o) => outcomes.push(o));
  leader()!.host.propose(encodeCommand({ kind: "cas", key: "a", expected: "1", value: "2" }), (o) => outcomes.push(o));
  world.runUntil(6_000);
  t.deepEqual(outcomes.map((o) => o.kind === "applied" ? o.result : o), [{ kind: "ok" }, { kind: "cas", swapped: true }]);
  for (const h of hosts) t.is(h.sm.get("a"), "2");
});

test("raft host: a follower refuses a proposal and names the leader", (t) => {
  const { world, leader, hosts } = cluster();
  world.runUntil(5_000);
  const follower = hosts.find((h) => h !== leader())!;
  let outcome: ProposeOutcome<KvResult> | null = null;
  follower.host.propose(encodeCommand({ kind: "delete", key: "a" }), (o) => (outcome = o));
  const refusal = outcome as ProposeOutcome<KvResult> | null;
  t.is(refusal?.kind, "rejected");
  t.is(refusal?.kind === "rejected" ? refusal.leader : null, leader()!.id);
});

test("raft host: a read is answered only once the state machine has applied the read index", (t) => {
  const { world, leader } = cluster();
  world.runUntil(5_000);
  const l = leader()!;
  l.host.propose(encodeCommand({ kind: "put", key: "k", value: "v" }), () => {});
  let seen: string | null | undefined;
  let outcome: ReadOutcome | null = null;
  l.host.read("readIndex", (o) => {
    outcome = o;
    seen = l.sm.get("k");
  });
  t.is(outcome, null);
  world.runUntil(6_000);
  t.is(outcome!.kind, "ready");
  t.is(seen, "v");
});

test("raft host: a read with no leader anywhere is refused at once", (t) => {
  const { hosts } = cluster();
  let outcome: ReadOutcome | null = null;
  hosts[0]!.host.read("readIndex", (o) => (outcome = o));
  t.deepEqual(outcome, { kind: "rejected", reason: "noLeader", leader: null });
});

test("raft host: every snapshotEveryEntries applied entries the log is compacted in storage", (t) => {
  const { world, leader, hosts } = cluster(10);
  world.runUntil(5_000);
  for (let i = 0; i < 35; i++) {
    leader()!.host.propose(encodeCommand({ kind: "put", key: "k", value: String(i) }), () => {});
    world.runUntil(world.nowMs + 100);
  }
  for (const h of hosts) {
    t.true(h.storage.compactions.length >= 3, `${h.id} compacted at ${h.storage.compactions.join(",")}`);
    t.is(h.storage.load().snapshot!.meta.index, h.storage.compactions[h.storage.compactions.length - 1]!);
  }
});

test("raft host: a stopped host answers nothing more and ignores ticks", (t) => {
  const { world, leader } = cluster();
  world.runUntil(5_000);
  const l = leader()!;
  const outcomes: ProposeOutcome<KvResult>[] = [];
  l.host.propose(encodeCommand({ kind: "put", key: "x", value: "1" }), (o) => outcomes.push(o));
  l.host.stop();
  world.runUntil(10_000);
  t.deepEqual(outcomes, []);
});
