import type { ProposeOutcome, ReadOutcome } from "../../src/agent/raft-host.ts";
import type { NodeId } from "../../src/core/raft/types.ts";
import type { HistoryOp, KvOp, KvResult } from "../checkers/history.ts";
import type { RaftCluster } from "../raft-cluster.ts";
import type { WorldRng } from "../world/rng.ts";
import type { World } from "../world/world.ts";
import { encodeCommand, type KvCommand, type KvStateMachine } from "./kv-state-machine.ts";

export interface WorkloadConfig {
  readonly clients: number;
  readonly keys: number;
  /** A client gives up on an operation after this long and records it as indeterminate. */
  readonly opTimeoutMs: number;
  /** Pause between a client's operations. */
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  /** One-way delay between a client and the server it talks to. */
  readonly clientLinkMaxMs: number;
}

interface OpRecord {
  readonly id: number;
  readonly client: number;
  readonly op: KvOp;
  readonly callMs: number;
  returnMs: number | null;
  result: KvResult | null;
  /** Settled: answered, timed out, or discarded as definitely without effect. */
  done: boolean;
  /** Definitely had no effect (refused, or lost to another entry): left out of the history. */
  discarded: boolean;
}

type Response =
  | { readonly kind: "result"; readonly result: KvResult }
  | { readonly kind: "refused"; readonly leader: NodeId | null }
  | { readonly kind: "unknown" };

/**
 * Clients doing put, get (ReadIndex and lease), compare-and-set and delete on a small key space
 * through whichever server they believe leads, with retries on refusal and timeouts, recording
 * every invocation and response. Each attempt is its own history entry: an attempt that timed
 * out stays in the history as indeterminate, one refused by a non-leader is left out because it
 * certainly never reached the log.
 */
export class KvWorkload {
  private readonly ops: OpRecord[] = [];
  private readonly leaderGuess: (NodeId | null)[];
  private readonly lastSuccessMs: number[];
  private opIdNext = 0;
  private valueSeq = 0;
  private running = false;
  completed = 0;
  indeterminate = 0;
  refused = 0;

  constructor(
    private readonly world: World,
    private readonly rng: WorldRng,
    private readonly cluster: RaftCluster<KvStateMachine>,
    readonly config: WorkloadConfig,
  ) {
    this.leaderGuess = Array.from({ length: config.clients }, () => null);
    this.lastSuccessMs = Array.from({ length: config.clients }, () => -1);
  }

  start(): void {
    this.running = true;
    for (let client = 0; client < this.config.clients; client++) this.scheduleNext(client);
  }

  stop(): void {
    this.running = false;
  }

  /** Clients that have not completed an operation since `sinceMs`. */
  clientsIdleSince(sinceMs: number): number[] {
    return this.lastSuccessMs.flatMap((ms, client) => (ms >= sinceMs ? [] : [client]));
  }

  history(): HistoryOp[] {
    return this.ops.filter((r) => !r.discarded).map((r) => ({
      id: r.id, client: r.client, op: r.op, callMs: r.callMs, returnMs: r.returnMs, result: r.result,
    }));
  }

  private scheduleNext(client: number): void {
    if (!this.running) return;
    this.world.after(this.rng.int(this.config.thinkMinMs, this.config.thinkMaxMs), () => this.invoke(client));
  }

  private invoke(client: number): void {
    if (!this.running) return;
    const record: OpRecord = {
      id: this.opIdNext++, client, op: this.drawOp(client), callMs: this.world.nowMs,
      returnMs: null, result: null, done: false, discarded: false,
    };
    this.ops.push(record);
    // Mostly the believed leader; sometimes any server, as Consul clients talk to whichever
    // server they know, so an old leader and a new one both see traffic during a handover.
    const guess = this.leaderGuess[client];
    const target = guess !== null && !this.rng.chance(0.25) ? guess : this.rng.pick(this.cluster.inService());
    this.world.record("call", { client, id: record.id, op: record.op, node: target });
    this.world.after(this.config.opTimeoutMs, () => this.timeout(record));
    this.world.after(this.linkDelayMs(), () => this.deliver(record, target));
  }

  private deliver(record: OpRecord, target: NodeId): void {
    if (record.done) return;
    const op = record.op;
    this.cluster.withHost(target, (host, sm) => {
      if (op.kind === "get") {
        host.read(op.mode, (o: ReadOutcome) => this.respond(record, readResponse(o, sm, op.key), target));
        return;
      }
      host.propose(encodeCommand(op as KvCommand), (o) => this.respond(record, proposeResponse(o as ProposeOutcome<KvResult>), target));
    });
  }

  private respond(record: OpRecord, response: Response, from: NodeId): void {
    // A server that refuses while naming itself (busy handing over leadership) is no guide.
    const useful = response.kind === "refused" && response.leader === from ? { kind: "refused" as const, leader: null } : response;
    this.world.after(this.linkDelayMs(), () => this.complete(record, useful));
  }

  private complete(record: OpRecord, response: Response): void {
    if (record.done) return;
    record.done = true;
    const client = record.client;
    this.world.record("return", { client, id: record.id, response });
    if (response.kind === "result") {
      record.returnMs = this.world.nowMs;
      record.result = response.result;
      this.completed++;
      this.lastSuccessMs[client] = this.world.nowMs;
    } else if (response.kind === "refused") {
      record.discarded = true;
      this.refused++;
      this.leaderGuess[client] = response.leader ?? this.rng.pick(this.cluster.inService());
    } else {
      // Indeterminate: a write stays in the history with no return and may take effect at any
      // time after its call; an unanswered read constrains nothing and is left out.
      record.discarded = record.op.kind === "get";
      this.indeterminate++;
      this.leaderGuess[client] = null;
    }
    this.scheduleNext(client);
  }

  private timeout(record: OpRecord): void {
    this.complete(record, { kind: "unknown" });
  }

  private drawOp(client: number): KvOp {
    const key = `k${this.rng.int(0, this.config.keys - 1)}`;
    const value = `c${client}-${this.valueSeq++}`;
    const roll = this.rng.next();
    if (roll < 0.25) return { kind: "put", key, value };
    if (roll < 0.45) return { kind: "get", key, mode: "readIndex" };
    if (roll < 0.6) return { kind: "get", key, mode: "lease" };
    if (roll < 0.85) {
      const expected = this.rng.chance(0.2) ? null : this.recentValue(key);
      return { kind: "cas", key, expected, value };
    }
    return { kind: "delete", key };
  }

  /** A value some client wrote to `key` lately, so compare-and-set succeeds often enough to matter. */
  private recentValue(key: string): string | null {
    for (let i = this.ops.length - 1; i >= Math.max(0, this.ops.length - 20); i--) {
      const op = this.ops[i]!.op;
      if (op.key === key && (op.kind === "put" || op.kind === "cas")) return op.value;
    }
    return null;
  }

  private linkDelayMs(): number {
    return this.rng.int(0, this.config.clientLinkMaxMs);
  }
}

function readResponse(outcome: ReadOutcome, sm: KvStateMachine, key: string): Response {
  switch (outcome.kind) {
    case "ready": return { kind: "result", result: { kind: "value", value: sm.get(key) } };
    case "rejected": return { kind: "refused", leader: outcome.leader };
    case "timeout": return { kind: "unknown" };
  }
}

function proposeResponse(outcome: ProposeOutcome<KvResult>): Response {
  switch (outcome.kind) {
    case "applied": return { kind: "result", result: outcome.result };
    case "rejected": return { kind: "refused", leader: outcome.leader };
    case "lost": return { kind: "refused", leader: null };
    case "unknown": return { kind: "unknown" };
  }
}
