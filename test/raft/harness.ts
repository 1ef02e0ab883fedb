/**
 * A tiny in-memory cluster for scenario tests: it persists each Ready to a fake disk before
 * "sending" its messages (the persistence rule), applies committed entries to a list state
 * machine, and delivers messages in FIFO order between ticks unless a link is cut.
 * No simulator, no timers: the test decides every tick and every delivery.
 */
import { mulberry32 } from "../../src/core/util/rng.ts";
import type { Rng } from "../../src/core/util/rng.ts";
import { RaftNode, defaultRaftConfig } from "../../src/core/raft/node.ts";
import type {
  ConfState, Entry, HardState, Message, NodeId, PersistedState, RaftConfig, ReadState, Ready, Snapshot,
} from "../../src/core/raft/types.ts";

export type NodeFactory = (config: RaftConfig, persisted: PersistedState, rng: Rng) => RaftNode;

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  initialConf?: ConfState;
}

export interface HarnessOptions {
  readonly seed?: number;
  readonly config?: Partial<RaftConfig>;
  /** Per-node starting disks; nodes without one start empty with the given voters as initialConf. */
  readonly disks?: Readonly<Record<NodeId, Partial<Disk>>>;
  readonly make?: NodeFactory;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (text: string): Uint8Array => encoder.encode(text);
export const text = (data: Uint8Array): string => decoder.decode(data);

/** One line per message, etcd rafttest style: `n1->n2 append term=2 log=1/11 commit=11 entries=[2/12]`. */
export function renderMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  if (m.index !== undefined || m.logTerm !== undefined) parts.push(`log=${m.logTerm ?? "-"}/${m.index ?? "-"}`);
  if (m.commit !== undefined) parts.push(`commit=${m.commit}`);
  if (m.entries !== undefined) parts.push(`entries=[${m.entries.map((e) => `${e.term}/${e.index}`).join(",")}]`);
  if (m.reject === true) parts.push(`reject hint=${m.rejectHintTerm ?? "-"}/${m.rejectHint ?? "-"}`);
  if (m.snapshot !== undefined) parts.push(`snapshot=${m.snapshot.meta.term}/${m.snapshot.meta.index}`);
  if (m.ctx !== undefined) parts.push(`ctx=${m.ctx}`);
  if (m.transfer === true) parts.push("transfer");
  return parts.join(" ");
}

export class Harness {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly disks = new Map<NodeId, Disk>();
  /** Each node's state machine: the applied "normal" entries' text, in order. */
  readonly applied = new Map<NodeId, string[]>();
  readonly reads = new Map<NodeId, ReadState[]>();
  readonly snapshotsInstalled = new Map<NodeId, number>();
  /** Every message delivered, rendered; tests assert on it. */
  readonly delivered: string[] = [];
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly seed: number;
  private readonly config: Partial<RaftConfig>;
  private readonly make: NodeFactory;
  private restarts = 0;

  constructor(readonly ids: readonly NodeId[], options: HarnessOptions = {}) {
    this.seed = options.seed ?? 1;
    this.config = options.config ?? {};
    this.make = options.make ?? ((config, persisted, rng) => new RaftNode(config, persisted, rng));
    for (const id of ids) {
      const given = options.disks?.[id] ?? {};
      this.disks.set(id, {
        hardState: given.hardState ?? { term: 0, vote: null, commit: 0 },
        snapshot: given.snapshot ?? null,
        entries: [...(given.entries ?? [])],
        initialConf: "initialConf" in given ? given.initialConf : { voters: [...ids], learners: [] },
      });
      this.start(id);
    }
  }

  node(id: NodeId): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no running node ${id}`);
    return node;
  }

  /** Start (or restart) a node from its disk; a node never seen before gets an empty disk. */
  start(id: NodeId): RaftNode {
    const disk = this.disks.get(id) ?? { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
    this.disks.set(id, disk);
    const persisted: PersistedState = {
      hardState: disk.hardState, snapshot: disk.snapshot, entries: [...disk.entries],
      ...(disk.initialConf === undefined ? {} : { initialConf: disk.initialConf }),
    };
    const index = Math.max(0, this.ids.indexOf(id)) + 100 * this.restarts++;
    const node = this.make(defaultRaftConfig(id, this.config), persisted, mulberry32(this.seed * 7919 + index));
    this.nodes.set(id, node);
    const snapshotState = disk.snapshot === null ? [] : (JSON.parse(text(disk.snapshot.data)) as string[]);
    this.applied.set(id, snapshotState);
    this.reads.set(id, []);
    return node;
  }

  /** Lose the process (not the disk): everything persisted survives. */
  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  isolate(id: NodeId): void {
    for (const other of this.disks.keys()) {
      if (other !== id) this.cutLink(id, other);
    }
  }

  cutLink(a: NodeId, b: NodeId, oneWay = false): void {
    this.cut.add(`${a}->${b}`);
    if (!oneWay) this.cut.add(`${b}->${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Run every pending Ready: persist, queue messages, apply, advance. */
  drain(): void {
    for (const [id, node] of this.nodes) {
      while (node.hasReady()) {
        const rd = node.ready();
        this.persist(id, rd);
        this.queue.push(...rd.messages);
        this.apply(id, rd);
        node.advance(rd);
        node.invariants();
      }
    }
  }

  /** Deliver messages until the network is quiet. */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.drain();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error(`network did not settle in ${maxRounds} rounds`);
  }

  deliver(m: Message): void {
    const node = this.nodes.get(m.to);
    if (node === undefined || this.cut.has(`${m.from}->${m.to}`)) return;
    this.delivered.push(renderMessage(m));
    node.step(m);
    node.invariants();
  }

  /** Tick every running node `count` times, settling the network after each tick. */
  tick(count = 1, only?: readonly NodeId[]): void {
    for (let i = 0; i < count; i++) {
      for (const [id, node] of this.nodes) {
        if (only === undefined || only.includes(id)) {
          node.tick();
          node.invariants();
        }
      }
      this.settle();
    }
  }

  leader(): RaftNode | null {
    let best: RaftNode | null = null;
    for (const node of this.nodes.values()) {
      const s = node.status();
      if (s.role === "leader" && (best === null || s.term > best.status().term)) best = node;
    }
    return best;
  }

  /** Tick until some node leads and every running member of its configuration follows it. */
  electLeader(maxTicks = 400): RaftNode {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      const members = leader === null ? [] : [...leader.status().conf.voters, ...leader.status().conf.learners];
      const following = (n: RaftNode) => n.status().leader === leader?.id || !members.includes(n.id);
      if (leader !== null && [...this.nodes.values()].every(following)) return leader;
      this.tick();
    }
    throw new Error(`no stable leader after ${maxTicks} ticks`);
  }

  /** Tick until `done()` holds; throws naming `what` if it never does. */
  tickUntil(what: string, done: () => boolean, maxTicks = 400): void {
    for (let i = 0; i < maxTicks; i++) {
      if (done()) return;
      this.tick();
    }
    throw new Error(`${what}: not reached after ${maxTicks} ticks`);
  }

  /** Elect someone, then hand leadership to `id` if it is not already the leader. */
  electLeaderNamed(id: NodeId): RaftNode {
    const leader = this.electLeader();
    if (leader.id === id) return leader;
    leader.transferLeadership(id);
    this.settle();
    const next = this.electLeader();
    if (next.id !== id) throw new Error(`transfer to ${id} ended with leader ${next.id}`);
    return next;
  }

  propose(value: string): number {
    const leader = this.leader();
    if (leader === null) throw new Error("no leader to propose to");
    const result = leader.propose(bytes(value));
    if (!result.ok) throw new Error(`proposal refused: ${result.reason}`);
    this.settle();
    return result.index;
  }

  /** The leader snapshots its state machine at its applied index. */
  compact(id: NodeId): Snapshot {
    const node = this.node(id);
    const index = node.status().applied;
    const snapshot = node.compact(index, bytes(JSON.stringify(this.applied.get(id))));
    const disk = this.disks.get(id)!;
    disk.snapshot = snapshot;
    disk.entries = disk.entries.filter((e) => e.index > index);
    return snapshot;
  }

  private persist(id: NodeId, rd: Ready): void {
    const disk = this.disks.get(id)!;
    if (rd.snapshot !== undefined) {
      disk.snapshot = rd.snapshot;
      disk.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      disk.entries = disk.entries.filter((e) => e.index < first.index).concat(rd.entries);
    }
    if (rd.hardState !== undefined) disk.hardState = rd.hardState;
  }

  private apply(id: NodeId, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      this.applied.set(id, JSON.parse(text(rd.snapshot.data)) as string[]);
      this.snapshotsInstalled.set(id, (this.snapshotsInstalled.get(id) ?? 0) + 1);
    }
    const sm = this.applied.get(id)!;
    for (const entry of rd.committedEntries) {
      if (entry.type === "normal") sm.push(text(entry.data));
    }
    this.reads.get(id)!.push(...rd.readStates);
  }
}

/** Entries for hand-built logs: `log("1 1 2 3")` is four entries with those terms from index 1. */
export function log(terms: string, from = 1): Entry[] {
  return terms.trim().split(/\s+/).map((term, i) => ({ term: Number(term), index: from + i, type: "normal" as const, data: bytes(`e${from + i}t${term}`) }));
}

/** Tick a lone node until it asks for (pre)votes, then grant them from n2: it leads. */
export function driveToLeader(node: RaftNode): Message[] {
  for (let i = 0; i < 100 && node.status().role === "follower"; i++) node.tick();
  let out = node.ready();
  node.advance(out);
  for (const kind of ["preVote", "vote"] as const) {
    const ask = out.messages.find((m) => m.type === kind && m.to === "n2");
    if (ask === undefined) continue;
    node.step({ type: kind === "preVote" ? "preVoteResp" : "voteResp", from: "n2", to: node.id, term: ask.term });
    out = node.ready();
    node.advance(out);
  }
  if (node.status().role !== "leader") throw new Error(`not leader: ${node.status().role}`);
  return [...out.messages];
}


/** A node started outside any Harness: n1 on an empty disk (term 0, voters n1..n3) unless overridden. */
export interface LoneNodeSpec extends Partial<PersistedState> {
  readonly config?: Partial<RaftConfig>;
  readonly seed?: number;
}

export function persistedState(overrides: Partial<PersistedState> = {}): PersistedState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], initialConf: { voters: ["n1", "n2", "n3"], learners: [] }, ...overrides };
}

export function loneNode(spec: LoneNodeSpec = {}): RaftNode {
  const { config = {}, seed = 1, ...disk } = spec;
  return new RaftNode(defaultRaftConfig("n1", config), persistedState(disk), mulberry32(seed));
}

/** Hand out and acknowledge every pending Ready of a lone node; returns them in order. */
export function drainReadies(node: RaftNode): Ready[] {
  const out: Ready[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    out.push(rd);
    node.advance(rd);
  }
  return out;
}

export function drainMessages(node: RaftNode): Message[] {
  return drainReadies(node).flatMap((rd) => rd.messages);
}
