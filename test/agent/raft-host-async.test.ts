/**
 * The host's asynchronous write path (what the agent runs over the WAL's fdatasync on libuv's
 * pool): group commit, a leader sending its entries before its own sync (Raft thesis §10.2.1),
 * and every other message held until the state it depends on is durable. The storage here makes
 * each sync take `syncMs` of simulated time, so the windows the rule is about are wide open.
 */
import test from "ava";
import { RaftHost, defaultRaftHostConfig, type ProposeOutcome } from "../../src/agent/raft-host.ts";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type { Entry, HardState, Message } from "../../src/core/raft/types.ts";
import type { RaftUpdate } from "../../src/storage/types.ts";
import type { KvResult } from "../../sim/checkers/history.ts";
import { SimNetwork } from "../../sim/network.ts";
import { describeMessage } from "../../sim/raft-core.ts";
import { encodeCommand, KvStateMachine } from "../../sim/scenarios/kv-state-machine.ts";
import { MemRaftStorage } from "../../sim/storage/mem-storage.ts";
import { WorldRng } from "../../sim/world/rng.ts";
import { World } from "../../sim/world/world.ts";

const ids = ["n1", "n2", "n3"];
const conf = { voters: ids, learners: [] };

/**
 * Memory storage whose saves become durable `syncMs` after they are written. `durable*` is what a
 * crash would keep; a test can also make the next sync fail.
 */
class SlowSyncStorage extends MemRaftStorage {
  durableHardState: HardState = { term: 0, vote: null, commit: 0 };
  /** index -> term of every entry on disk. */
  readonly durableTerms = new Map<number, number>();
  saves = 0;
  /** Saves that carried log entries (the rest only move the commit index). */
  entrySaves = 0;
  inFlight = 0;
  failNext = false;

  constructor(private readonly world: World, public syncMs: number) {
    super();
  }

  saveAsync(update: RaftUpdate, done: (error: Error | null) => void): void {
    this.inFlight++;
    this.world.after(this.syncMs, () => {
      this.inFlight--;
      if (this.failNext) {
        this.failNext = false;
        done(new Error("EIO: simulated disk failure"));
        return;
      }
      this.save(update);
      this.saves++;
      if (update.entries.length > 0) this.entrySaves++;
      if (update.snapshot !== undefined) this.durableTerms.clear();
      for (const e of update.entries) {
        for (const i of [...this.durableTerms.keys()]) if (i >= e.index) this.durableTerms.delete(i);
        this.durableTerms.set(e.index, e.term);
      }
      if (update.hardState !== undefined) this.durableHardState = update.hardState;
      done(null);
    });
  }

  holds(entry: Entry): boolean {
    return this.durableTerms.get(entry.index) === entry.term;
  }
}

interface Sent { readonly from: string; readonly message: Message; readonly durableTerm: number; readonly durableVote: string | null; readonly durable: (e: Entry) => boolean; readonly durableLast: number }

type HostClass = typeof RaftHost<KvResult>;

function cluster(Host: HostClass = RaftHost, syncMs = 20, snapshotEveryEntries = 1024) {
  const world = new World(5);
  const network = new SimNetwork<Message>(world, new WorldRng(5, "net"), { delayMinMs: 1, delayMaxMs: 3 }, describeMessage);
  const sent: Sent[] = [];
  const nodes = ids.map((id) => {
    const storage = new SlowSyncStorage(world, syncMs);
    const endpoint = network.open(id);
    const send = endpoint.send.bind(endpoint);
    endpoint.send = (to, m) => {
      const terms = new Map(storage.durableTerms);
      sent.push({
        from: id, message: m, durableTerm: storage.durableHardState.term, durableVote: storage.durableHardState.vote,
        durable: (e) => terms.get(e.index) === e.term, durableLast: Math.max(0, ...terms.keys()),
      });
      send(to, m);
    };
    const sm = new KvStateMachine();
    const host = new Host(storage, endpoint, sm,
      (p) => new RaftNode(defaultRaftConfig(id), { ...p, initialConf: conf }, new WorldRng(5, id)),
      defaultRaftHostConfig({ requestTimeoutTicks: 100, snapshotEveryEntries }));
    const tick = (): void => {
      host.tick();
      world.after(50, tick);
    };
    world.after(50, tick);
    return { id, host, sm, storage };
  });
  const leader = () => nodes.find((n) => n.host.node.status().role === "leader");
  return { world, nodes, sent, leader };
}

/** Messages whose contents depend on the sender's durable state, judged against what was durable when sent. */
function persistenceViolations(sent: readonly Sent[]): string[] {
  const out: string[] = [];
  for (const s of sent) {
    const m = s.message;
    // Pre-vote asks about a term it does not adopt; replication traffic may precede the leader's sync.
    if (m.type === "preVote" || m.type === "preVoteResp" || m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") continue;
    if (m.term > s.durableTerm) out.push(`${s.from} sent ${m.type} in term ${m.term} with durable term ${s.durableTerm}`);
    if (m.type === "vote" && s.durableVote !== s.from) out.push(`${s.from} asked for votes before its own vote was durable`);
    if (m.type === "voteResp" && m.reject !== true && s.durableVote !== m.to) out.push(`${s.from} granted ${m.to} a vote not yet durable`);
    if (m.type === "appendResp" && m.reject !== true && m.index! > s.durableLast) {
      out.push(`${s.from} acknowledged index ${m.index} with only ${s.durableLast} durable`);
    }
  }
  return out;
}

function proposeMany(host: RaftHost<KvResult>, n: number, outcomes: ProposeOutcome<KvResult>[] = []): ProposeOutcome<KvResult>[] {
  for (let i = 0; i < n; i++) host.propose(encodeCommand({ kind: "put", key: `k${i}`, value: `v${i}` }), (o) => outcomes.push(o));
  return outcomes;
}

test("async host: every message that depends on durable state waits for its sync", (t) => {
  const { world, sent, leader } = cluster();
  world.runUntil(5_000);
  const l = leader();
  t.truthy(l);
  proposeMany(l!.host, 40);
  world.runUntil(8_000);
  t.true(sent.some((s) => s.message.type === "appendResp"), "appends were acknowledged");
  t.deepEqual(persistenceViolations(sent), []);
});

test("async host: the leader sends its entries to followers before its own sync completes (§10.2.1)", (t) => {
  const { world, sent, leader } = cluster();
  world.runUntil(5_000);
  const l = leader()!;
  proposeMany(l.host, 5);
  world.runUntil(6_000);
  const early = sent.filter((s) => s.from === l.id && s.message.type === "append" && (s.message.entries ?? []).some((e) => !s.durable(e)));
  t.true(early.length > 0, "some append left while the leader's copy of its entries was still being synced");
});

test("async host: a write is answered only once it is durable on a quorum", (t) => {
  const { world, nodes, leader } = cluster();
  world.runUntil(5_000);
  const l = leader()!;
  const checks: number[] = [];
  for (let i = 0; i < 20; i++) {
    l.host.propose(encodeCommand({ kind: "put", key: `q${i}`, value: "x" }), (o) => {
      t.is(o.kind, "applied");
      if (o.kind !== "applied") return;
      const entry = { index: o.index, term: l.host.node.status().term } as Entry;
      checks.push(nodes.filter((n) => n.storage.holds(entry)).length);
    });
  }
  world.runUntil(8_000);
  t.is(checks.length, 20);
  for (const c of checks) t.true(c >= 2, `answered with ${c} durable copies`);
});

test("async host: proposals arriving during a sync share the next one (group commit)", (t) => {
  const { world, leader } = cluster(RaftHost, 40);
  world.runUntil(5_000);
  const l = leader()!;
  const before = l.storage.entrySaves;
  const outcomes = proposeMany(l.host, 100);
  world.runUntil(5_010);
  // These arrive while the first batch's sync is in flight: one more save takes them all.
  proposeMany(l.host, 100, outcomes);
  world.runUntil(7_000);
  t.is(outcomes.filter((o) => o.kind === "applied").length, 200, JSON.stringify(outcomes.filter((o) => o.kind !== "applied").slice(0, 2)));
  t.is(l.storage.entrySaves - before, 2, "one save for the first 100, one for the 100 that arrived during its sync");
});

test("async host: compactions run between saves, and every server converges", (t) => {
  const { world, nodes, leader } = cluster(RaftHost, 15, 16);
  world.runUntil(5_000);
  const outcomes = proposeMany(leader()!.host, 150);
  world.runUntil(5_030);
  proposeMany(leader()!.host, 150, outcomes);
  world.runUntil(9_000);
  t.is(outcomes.filter((o) => o.kind === "applied").length, 300);
  const applied = nodes.map((n) => n.host.appliedIndex);
  t.true(applied.every((a) => a === applied[0]), `applied ${applied.join(", ")}`);
  for (const n of nodes) t.true(n.host.node.status().firstIndex > 200, `${n.id} compacted its log (first index ${n.host.node.status().firstIndex})`);
  for (const n of nodes) t.is(n.sm.get("k149"), "v149");
});

test("async host: a failed sync stops the server with the storage's reason", (t) => {
  const { world, leader } = cluster();
  world.runUntil(5_000);
  const l = leader()!;
  l.storage.failNext = true;
  proposeMany(l.host, 1);
  t.throws(() => world.runUntil(6_000), { message: /n\d: Raft storage failed, server stopped: EIO: simulated disk failure/ });
});

/** Planted bug: a follower that acknowledges appends (and a voter that grants) before its sync. */
class AcksBeforeSync extends RaftHost<KvResult> {
  protected override sendsBeforeSync(): boolean {
    return true;
  }
}

test("async host: the persistence check catches a host that acknowledges before its sync (planted bug)", (t) => {
  const { world, sent, leader } = cluster(AcksBeforeSync);
  world.runUntil(5_000);
  proposeMany(leader()!.host, 40);
  world.runUntil(8_000);
  const violations = persistenceViolations(sent);
  t.true(violations.some((v) => / acknowledged index \d+ with only \d+ durable/.test(v)), violations.slice(0, 3).join("; "));
});

test("async host: a leader's snapshot accepted while a save is in flight is not compacted under by that save's compaction", (t) => {
  const { world, nodes, leader } = cluster(RaftHost, 20, 16);
  world.runUntil(5_000);
  const lead = leader()!;
  const slow = nodes.find((n) => n !== lead)!;
  const outcomes = proposeMany(lead.host, 20);
  // Once the follower holds the entries, its syncs take long: its applied index passes the
  // compaction threshold at the start of the next save, and the compaction waits for that save.
  while (!slow.storage.durableTerms.has(21)) world.runUntil(world.nowMs + 1);
  slow.storage.syncMs = 400;
  const snapshotIndex = (n: typeof lead) => n.host.node.status().firstIndex - 1;
  for (let at = world.nowMs; !(slow.storage.inFlight > 0 && slow.host.appliedIndex >= 16 && snapshotIndex(slow) === 0); at++) {
    t.true(at < 10_000, "the slow follower never held a save in flight past its compaction threshold");
    world.runUntil(at);
  }
  const appliedDuringSave = slow.host.appliedIndex;
  for (let i = 20; i < 40; i++) lead.host.propose(encodeCommand({ kind: "put", key: `k${i}`, value: `v${i}` }), (o) => outcomes.push(o));
  while (snapshotIndex(lead) <= appliedDuringSave) world.runUntil(world.nowMs + 1);
  t.true(slow.storage.inFlight > 0, "the follower's save is still in flight");
  // What the leader sends a follower whose next entry it no longer has.
  slow.host.receive({ type: "snapshot", from: lead.id, to: slow.id, term: lead.host.node.status().term, snapshot: lead.storage.load().snapshot! });
  world.runUntil(world.nowMs + 5_000);
  t.is(outcomes.filter((o) => o.kind === "applied").length, 40);
  t.is(slow.host.appliedIndex, lead.host.appliedIndex);
  t.is(slow.sm.get("k39"), "v39");
});

test("async host: softState (what requests ask) agrees with the core's status once each drain settles", (t) => {
  const { world, nodes, leader } = cluster();
  const disagreements: string[] = [];
  let checks = 0;
  for (let at = 100; at <= 8_000; at += 100) {
    world.after(at, () => {
      for (const n of nodes) {
        const status = n.host.node.status();
        checks++;
        if (n.host.softState.role !== status.role || n.host.softState.leader !== status.leader) {
          disagreements.push(`${at} ms ${n.id}: softState ${JSON.stringify(n.host.softState)}, status ${status.role} led by ${status.leader}`);
        }
      }
    });
  }
  world.runUntil(5_000);
  const l = leader()!;
  // A leader change on the way: the soft state must follow it, not keep the first election's.
  l.host.transferLeadership(nodes.find((n) => n !== l)!.id);
  world.runUntil(8_000);
  t.not(leader()!.id, l.id);
  t.true(checks > 200);
  t.deepEqual(disagreements, []);
});

test("async host: a lease read on the leader is answered during a sync in flight, without the writes still syncing", (t) => {
  const { world, leader } = cluster(RaftHost, 40);
  world.runUntil(5_000);
  const l = leader()!;
  l.host.propose(encodeCommand({ kind: "put", key: "before", value: "1" }), () => {});
  world.runUntil(5_200);
  t.is(l.sm.get("before"), "1");
  const written: ProposeOutcome<KvResult>[] = [];
  l.host.propose(encodeCommand({ kind: "put", key: "during", value: "2" }), (o) => written.push(o));
  t.true(l.storage.inFlight > 0, "the write's sync is in flight");
  const seen: { kind: string; during: string | null }[] = [];
  l.host.read("lease", (o) => seen.push({ kind: o.kind, during: l.sm.get("during") }));
  world.runUntil(5_205);
  // Consul answers a default-consistency read from the leader's state at once; waiting for the
  // sync would make every read on a busy leader cost a write's latency and show later writes.
  t.deepEqual(seen, [{ kind: "ready", during: null }]);
  t.deepEqual(written, []);
  world.runUntil(6_000);
  t.is(written[0]?.kind, "applied");
});
