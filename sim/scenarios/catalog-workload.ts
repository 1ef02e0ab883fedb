/**
 * The catalog scenario's clients. Each client, through whichever server it believes leads:
 * - does linearizable KV work on `kv/` keys (set, get in both read modes, CAS on the ModifyIndex
 *   it last read, delete), recorded as a history for the linearizability checker;
 * - contends for locks on `lock/` keys with its own session (create, acquire, release, renew,
 *   destroy), so sessions get invalidated under held locks;
 * - registers agents, services and checks, with serfHealth sometimes going critical (which
 *   invalidates the sessions bound to it) and sometimes deregistering.
 * - TTL sessions are renewed as Patroni does, every TTL / 2 (and retried when a renew fails);
 *   every create and renew goes to the session checker, which judges expiries against them.
 *
 * Blocking clients (`blockingClients`) each run one query at a time as a stream: a consistent
 * read on the server they believe leads, then `?index=<last index>&wait=<drawn>`; the server side
 * is emulated here the way Consul's blockingQuery runs (query; if the index has not passed the
 * client's, watch the query's scopes and re-run on wake, waiting again if the index still has not
 * moved; answer when the wait runs out). Every answer goes to the blocking checker.
 *
 * CAS maps onto the checker's value-based CAS because every write writes a value no other write
 * uses: the key's ModifyIndex equals the one the client read exactly when the value is the one
 * it read.
 */
import type { ProposeOutcome, ReadOutcome, StateMachine } from "../../src/agent/raft-host.ts";
import {
  encodeCommand, parseGoDurationMs, queryScopes, type ApplyResult, type Catalog, type Command, type QueryResult, type WatchScope,
} from "../../src/core/catalog/index.ts";
import type { BlockingChecker } from "../checkers/blocking-checker.ts";
import type { LockClientChecker } from "../checkers/lock-client-checker.ts";
import { holderKey, sessionKey, type HoldKnowledge, type LockHistory, type Pending } from "../checkers/lock-history.ts";
import type { SessionChecker } from "../checkers/session-checker.ts";
import type { NodeId } from "../../src/core/raft/types.ts";
import type { HistoryOp, KvOp, KvResult } from "../checkers/history.ts";
import type { RaftCluster } from "../raft-cluster.ts";
import type { WorldRng } from "../world/rng.ts";
import type { World } from "../world/world.ts";

export interface CatalogWorkloadConfig {
  readonly clients: number;
  readonly kvKeys: number;
  readonly lockKeys: number;
  readonly agents: number;
  readonly opTimeoutMs: number;
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  readonly clientLinkMaxMs: number;
  /** Clients running blocking queries (they do nothing else). */
  readonly blockingClients: number;
  /** The `wait` a blocking client draws per call. */
  readonly blockWaitMinMs: number;
  readonly blockWaitMaxMs: number;
  /** TTLs drawn for TTL sessions (Go duration text, within the catalog's TTL bounds). */
  readonly sessionTtls: readonly string[];
}

/** The judges the workload reports to. */
export interface CatalogWorkloadCheckers {
  readonly blocking: BlockingChecker;
  readonly sessions: SessionChecker;
  readonly locks: LockClientChecker;
  readonly lockHistory: LockHistory;
}

/**
 * The node pure TTL sessions (no checks, Patroni's kind) live on: registered once by the
 * workload, never deregistered, so only their clients and their TTL end them.
 */
export const keeperNode = "keeper";

/** A blocking query: what it reads, and the scopes the HTTP layer watches for it. */
export interface BlockingQuery {
  readonly name: string;
  readonly scopes: readonly WatchScope[];
  readonly run: (catalog: Catalog) => QueryResult<unknown>;
}

/** A lock op as the lock history holds it until it settles. */
interface LockCall {
  readonly client: number;
  readonly session: string;
  readonly verb: "lock" | "unlock" | "destroy";
  readonly holdsKey: string;
  readonly pending: Pending;
}

/** A blocking answer as the client receives it; `how` is a simulator-only header. */
interface BlockingReply {
  readonly index: number;
  readonly print: string;
  readonly how: "immediate" | "woken" | "timeout";
}

/** A server gives up on a waiter woken this many times in a row without its index moving (a spin). */
const spinWakesMax = 50;

/** What the cluster's state machines expose to the workload. */
export interface CatalogHolder {
  readonly catalog: Catalog;
}

interface OpRecord {
  readonly id: number;
  readonly client: number;
  readonly op: KvOp;
  readonly callMs: number;
  returnMs: number | null;
  result: KvResult | null;
  discarded: boolean;
}

/** A command as a client sends it; the server adds `v` and its own `nowMs`. */
export type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, "v" | "nowMs"> : never) : never;

type Outcome<T> = { kind: "done"; value: T } | { kind: "refused"; leader: NodeId | null } | { kind: "unknown" };

const text = new TextEncoder();
const untext = new TextDecoder();

export class CatalogWorkload {
  private readonly ops: OpRecord[] = [];
  private readonly leaderGuess: (NodeId | null)[];
  private readonly lastSuccessMs: number[];
  private readonly sessionOf: (string | null)[];
  private readonly lastRead: Map<string, { value: string | null; index: number }>[];
  /** Per client: its session's TTL in ms (0: none) and when it last tried to renew. */
  private readonly sessionTtlMs: number[];
  private readonly lastRenewMs: number[];
  private readonly queries: readonly BlockingQuery[];
  private readonly streamOf: { id: string; query: BlockingQuery; callsLeft: number }[] = [];
  private seq = 0;
  private keeperRegistered = false;
  /** `${session}\0${key}` -> whether the client knows its session holds the key. */
  private readonly holds = new Map<string, HoldKnowledge>();
  private running = false;
  readonly counters = {
    kvDone: 0, indeterminate: 0, refused: 0, sessionsCreated: 0, sessionRefusals: 0, acquired: 0,
    acquireRefused: 0, released: 0, registrations: 0, renewals: 0, blockingAnswers: 0, spinWakes: 0, preparedQueryWrites: 0,
  };

  constructor(
    private readonly world: World,
    private readonly rng: WorldRng,
    private readonly cluster: RaftCluster<CatalogHolder & StateMachine<ApplyResult>>,
    readonly config: CatalogWorkloadConfig,
    private readonly checkers: CatalogWorkloadCheckers,
  ) {
    // Blocking clients take the slots after the ordinary ones (they share the leader guesses).
    const slots = config.clients + config.blockingClients;
    this.leaderGuess = Array.from({ length: slots }, () => null);
    this.lastSuccessMs = Array.from({ length: config.clients }, () => -1);
    this.sessionOf = Array.from({ length: config.clients }, () => null);
    this.lastRead = Array.from({ length: config.clients }, () => new Map());
    this.sessionTtlMs = Array.from({ length: config.clients }, () => 0);
    this.lastRenewMs = Array.from({ length: config.clients }, () => 0);
    this.queries = blockingQueries(config);
  }

  start(): void {
    this.running = true;
    for (let client = 0; client < this.config.clients; client++) this.scheduleNext(client);
    for (let b = 0; b < this.config.blockingClients; b++) this.scheduleBlocking(b);
  }

  stop(): void {
    this.running = false;
  }

  clientsIdleSince(sinceMs: number): number[] {
    return this.lastSuccessMs.flatMap((ms, client) => (ms >= sinceMs ? [] : [client]));
  }

  history(): HistoryOp[] {
    return this.ops.filter((r) => !r.discarded).map((r) => ({
      id: r.id, client: r.client, op: r.op, callMs: r.callMs, returnMs: r.returnMs, result: r.result,
    }));
  }

  /** Proposes a command on `target` with that server's time stamped in it, as a leader would. */
  propose(target: NodeId, body: CommandBody, done: (o: Outcome<ApplyResult>) => void): void {
    const command = { v: 1, nowMs: this.world.nowMs, ...body } as Command;
    // Through the cluster's guard: a disk dying inside the propose crashes that server.
    this.cluster.withHost(target, (host) => {
      host.propose(encodeCommand(command), (o) => done(proposeOutcome(o as ProposeOutcome<ApplyResult>, target)));
    });
  }

  private scheduleNext(client: number): void {
    if (!this.running) return;
    this.world.after(this.rng.int(this.config.thinkMinMs, this.config.thinkMaxMs), () => this.invoke(client));
  }

  private invoke(client: number): void {
    if (!this.running) return;
    const roll = this.rng.next();
    if (roll < 0.42) this.kvOp(client);
    else if (roll < 0.45) this.preparedQueryOp(client);
    else if (roll < 0.85) this.lockOp(client);
    else this.catalogOp(client);
  }

  /**
   * Sends one request to the client's guess of the leader; `deliver` runs on arrival. `slot` is
   * the client's leader-guess slot; ordinary clients draw their next op when it settles.
   */

  private call<T>(
    slot: number, deliver: (target: NodeId, reply: (o: Outcome<T>) => void) => void, settle: (o: Outcome<T>, target: NodeId) => void,
    extraTimeoutMs = 0,
  ): void {
    const target = this.leaderGuess[slot] ?? this.rng.pick(this.cluster.inService());
    let settled = false;
    const finish = (o: Outcome<T>): void => {
      if (settled) return;
      settled = true;
      if (o.kind === "refused") this.leaderGuess[slot] = o.leader ?? this.rng.pick(this.cluster.inService());
      if (o.kind === "unknown") this.leaderGuess[slot] = null;
      const ordinary = slot < this.config.clients;
      if (o.kind === "done" && ordinary) this.lastSuccessMs[slot] = this.world.nowMs;
      settle(o, target);
      if (ordinary) this.scheduleNext(slot);
      else this.scheduleBlocking(slot - this.config.clients);
    };
    this.world.after(this.config.opTimeoutMs + extraTimeoutMs, () => finish({ kind: "unknown" }));
    this.world.after(this.linkDelayMs(), () => {
      if (this.cluster.host(target) === null || settled) return;
      deliver(target, (o) => this.world.after(this.linkDelayMs(), () => finish(o)));
    });
  }

  private kvOp(client: number): void {
    const op = this.drawKvOp(client);
    const record: OpRecord = { id: this.seq++, client, op, callMs: this.world.nowMs, returnMs: null, result: null, discarded: false };
    this.ops.push(record);
    this.world.record("call", { client, id: record.id, op });
    this.call<KvResult>(client, (target, reply) => this.sendKv(client, target, op, reply), (o) => {
      if (o.kind === "done") {
        record.returnMs = this.world.nowMs;
        record.result = o.value;
        this.counters.kvDone++;
      } else if (o.kind === "refused") {
        record.discarded = true;
        this.counters.refused++;
      } else {
        record.discarded = op.kind === "get";
        this.counters.indeterminate++;
      }
    });
  }

  private sendKv(client: number, target: NodeId, op: KvOp, reply: (o: Outcome<KvResult>) => void): void {
    if (op.kind === "get") {
      this.cluster.withHost(target, (host, sm) => host.read(op.mode, (o: ReadOutcome) => {
        if (o.kind !== "ready") return reply(o.kind === "rejected" ? refusal(o.leader, target) : { kind: "unknown" });
        const entry = sm.catalog.kvGet(op.key).value;
        const value = entry === null || entry.Value === null ? null : untext.decode(entry.Value);
        this.lastRead[client]!.set(op.key, { value, index: entry?.ModifyIndex ?? 0 });
        reply({ kind: "done", value: { kind: "value", value } });
      }));
      return;
    }
    const body = op.kind === "put" ? { op: "kv" as const, Verb: "set" as const, Key: op.key, Value: text.encode(op.value) }
      : op.kind === "delete" ? { op: "kv" as const, Verb: "delete" as const, Key: op.key }
      : { op: "kv" as const, Verb: "cas" as const, Key: op.key, Value: text.encode(op.value), Index: this.casIndex(client, op) };
    this.propose(target, body, (o) => {
      if (o.kind !== "done") return reply(o);
      if (!o.value.ok) throw new Error(`kv ${op.kind} on ${op.key} refused by the catalog: ${o.value.error.message}`);
      reply({ kind: "done", value: op.kind === "cas" ? { kind: "cas", swapped: o.value.value === true } : { kind: "ok" } });
    });
  }

  private casIndex(client: number, op: Extract<KvOp, { kind: "cas" }>): number {
    if (op.expected === null) return 0;
    return this.lastRead[client]!.get(op.key)?.index ?? 0;
  }

  private drawKvOp(client: number): KvOp {
    const key = `kv/k${this.rng.int(0, this.config.kvKeys - 1)}`;
    const value = `c${client}-${this.seq}`;
    const roll = this.rng.next();
    if (roll < 0.25) return { kind: "put", key, value };
    if (roll < 0.45) return { kind: "get", key, mode: "readIndex" };
    if (roll < 0.6) return { kind: "get", key, mode: "lease" };
    if (roll < 0.88) {
      const read = this.lastRead[client]!.get(key);
      const expected = read === undefined || read.value === null || this.rng.chance(0.15) ? null : read.value;
      return { kind: "cas", key, expected, value };
    }
    return { kind: "delete", key };
  }

  private lockOp(client: number): void {
    const session = this.sessionOf[client]!;
    if (session === null) return this.createSession(client);
    const ttlMs = this.sessionTtlMs[client]!;
    if (ttlMs > 0 && this.world.nowMs - this.lastRenewMs[client]! >= ttlMs / 2) return this.renew(client, session);
    const key = `lock/l${this.rng.int(0, this.config.lockKeys - 1)}`;
    const roll = this.rng.next();
    const body = roll < 0.55 ? { op: "kv" as const, Verb: "lock" as const, Key: key, Session: session, Value: text.encode(`c${client}`) }
      : roll < 0.8 ? { op: "kv" as const, Verb: "unlock" as const, Key: key, Session: session }
      : roll < 0.93 ? { op: "session.renew" as const, ID: session }
      : { op: "session.destroy" as const, ID: session };
    if (body.op === "session.renew") return this.renew(client, session);
    const callMs = this.world.nowMs;
    if (body.op === "kv" && body.Verb === "unlock") this.checkers.locks.onReleaseCall(session, key, callMs);
    if (body.op === "session.destroy") this.checkers.locks.onSessionEnded(session, callMs);
    const recorded = this.recordLockCall(client, session, key, body.op === "kv" ? body.Verb : "destroy", callMs);
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      this.settleLockCall(recorded, o, callMs);
      if (o.kind !== "done") return;
      const result = o.value;
      if (!result.ok || body.op === "session.destroy") {
        this.checkers.locks.onSessionEnded(session, this.world.nowMs);
        if (this.sessionOf[client] === session) this.sessionOf[client] = null;
        return;
      }
      if (body.op === "kv" && body.Verb === "lock") {
        if (result.value === true) this.counters.acquired++;
        else this.counters.acquireRefused++;
        if (result.value === true) this.checkers.locks.onAcquired(client, session, key, this.world.nowMs);
      }
      if (body.op === "kv" && body.Verb === "unlock" && result.value === true) this.counters.released++;
    });
  }

  /** Records a lock op in the lock history (see lock-history.ts for the mapping). */
  private recordLockCall(client: number, session: string, key: string, verb: LockCall["verb"], callMs: number): LockCall {
    const history = this.checkers.lockHistory;
    const holdsKey = `${session}\0${key}`;
    const know = this.holds.get(holdsKey) ?? "free";
    const pending = verb === "destroy" ? history.call(client, { kind: "delete", key: sessionKey(session) }, callMs)
      : verb === "unlock" ? history.call(client, { kind: "delete", key: holderKey(key) }, callMs)
      : know === "unknown" ? history.call(client, { kind: "put", key: holderKey(key), value: session }, callMs)
      : history.call(client, { kind: "cas", key: holderKey(key), expected: know === "held" ? session : null, value: session }, callMs);
    return { client, session, verb, holdsKey, pending };
  }

  private settleLockCall(recorded: LockCall, o: Outcome<ApplyResult>, callMs: number): void {
    const { client, session, verb, holdsKey, pending } = recorded;
    const history = this.checkers.lockHistory;
    const nowMs = this.world.nowMs;
    if (o.kind === "refused") return history.drop(pending);
    if (o.kind === "unknown") {
      // A write that may land at any time after its call, or never: the history keeps it open.
      if (verb !== "destroy") this.holds.set(holdsKey, "unknown");
      return;
    }
    const result = o.value;
    if (!result.ok) {
      history.drop(pending);
      if (result.error.message.startsWith("invalid session")) history.read(client, sessionKey(session), null, callMs, nowMs);
      return;
    }
    if (verb === "destroy") return history.done(pending, { kind: "ok" }, nowMs);
    if (result.value !== true) {
      history.drop(pending);
      this.holds.set(holdsKey, "free");
      return;
    }
    if (verb === "unlock") {
      history.done(pending, { kind: "ok" }, nowMs);
      this.holds.set(holdsKey, "free");
      return;
    }
    history.done(pending, pending.op.kind === "put" ? { kind: "ok" } : { kind: "cas", swapped: true }, nowMs);
    history.read(client, sessionKey(session), "alive", callMs, nowMs);
    this.holds.set(holdsKey, "held");
  }

  /** Patroni's keep-alive: renew every TTL / 2; a session the server no longer knows is dropped. */
  private renew(client: number, session: string): void {
    const callMs = this.world.nowMs;
    this.lastRenewMs[client] = callMs;
    this.checkers.sessions.onRenewAttempt(session, callMs);
    const body = { op: "session.renew" as const, ID: session };
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      if (o.kind !== "done") return;
      this.checkers.lockHistory.read(client, sessionKey(session), o.value.ok ? "alive" : null, callMs, this.world.nowMs);
      if (o.value.ok) {
        this.checkers.sessions.onRenewOk(session, callMs);
        this.checkers.locks.onRenewOk(session, callMs);
        this.counters.renewals++;
      } else {
        this.checkers.locks.onSessionEnded(session, this.world.nowMs);
        if (this.sessionOf[client] === session) this.sessionOf[client] = null;
      }
    });
  }

  /**
   * Three kinds of session: pure TTL on the keeper node (Patroni's: only the client and the TTL
   * end it), TTL bound to its agent's serfHealth, and no TTL (bound to serfHealth or to nothing).
   */
  private createSession(client: number): void {
    const kind = this.rng.next();
    const pure = kind < 0.35;
    if (pure && !this.keeperRegistered) return this.registerKeeper(client);
    const id = `c${client}-s${this.seq++}`;
    const ttl = kind < 0.5 ? this.rng.pick(this.config.sessionTtls) : "";
    const bindSerf = !pure && (ttl !== "" || this.rng.chance(0.5));
    const body = {
      op: "session.create" as const, ID: id, Node: pure ? keeperNode : `agent-${this.rng.int(1, this.config.agents)}`,
      TTL: ttl, Behavior: this.rng.chance(0.3) ? "delete" : "release",
      LockDelayMs: this.rng.pick([0, 500, 3000]), ...(bindSerf ? {} : { NodeChecks: [] as string[] }),
    };
    const callMs = this.world.nowMs;
    const pending = this.checkers.lockHistory.call(client, { kind: "cas", key: sessionKey(id), expected: null, value: "alive" }, callMs);
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      if (o.kind === "refused" || (o.kind === "done" && !o.value.ok)) this.checkers.lockHistory.drop(pending);
      if (o.kind === "done" && o.value.ok) this.checkers.lockHistory.done(pending, { kind: "cas", swapped: true }, this.world.nowMs);
      if (o.kind !== "done") return;
      if (o.value.ok) {
        const ttlMs = ttl === "" ? 0 : parseGoDurationMs(ttl)!;
        this.sessionOf[client] = id;
        this.sessionTtlMs[client] = ttlMs;
        this.lastRenewMs[client] = callMs;
        this.checkers.sessions.onCreated(id, ttlMs, callMs);
        if (pure) this.checkers.locks.onPureTtlSessionCreated(id, ttlMs, callMs);
        this.counters.sessionsCreated++;
      } else {
        this.counters.sessionRefusals++;
      }
    });
  }

  private registerKeeper(client: number): void {
    const body = { op: "catalog.register" as const, Node: keeperNode, Address: "10.0.1.1" };
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      if (o.kind === "done" && o.value.ok) this.keeperRegistered = true;
    });
  }

  private scheduleBlocking(b: number): void {
    if (!this.running) return;
    this.world.after(this.rng.int(0, this.config.thinkMinMs), () => this.blockingCall(b));
  }

  /** One call of blocking client `b`: its stream's query with the index it was last answered. */
  private blockingCall(b: number): void {
    if (!this.running) return;
    let stream = this.streamOf[b];
    if (stream === undefined || stream.callsLeft <= 0) {
      stream = { id: `b${b}.${this.seq++}`, query: this.rng.pick(this.queries), callsLeft: this.rng.int(5, 40) };
      this.streamOf[b] = stream;
      this.checkers.blocking.open(stream.id, stream.query.name);
    }
    stream.callsLeft--;
    const { id, query } = stream;
    const passedIndex = this.checkers.blocking.nextIndex(id);
    const waitMs = this.rng.int(this.config.blockWaitMinMs, this.config.blockWaitMaxMs);
    const callMs = this.world.nowMs;
    type Answer = BlockingReply;
    this.call<Answer>(this.config.clients + b, (target, reply) => this.serveBlocking(target, query, passedIndex, waitMs, reply), (o, target) => {
      if (o.kind !== "done") return;
      this.counters.blockingAnswers++;
      this.checkers.blocking.onAnswer(id, { passedIndex, waitMs, callMs, returnMs: this.world.nowMs, server: target, ...o.value });
    }, waitMs);
  }

  /**
   * The server's side of a blocking query, as Consul's blockingQuery runs it: a consistent read,
   * the query, and if its index has not passed the client's, a watch on the query's scopes that
   * re-runs it on each wake and waits again while the index has not moved (a snapshot restore
   * wakes everybody), until the wait runs out. A waiter woken `spinWakesMax` times in a row
   * without progress is answered as it is: a real server would spin there forever.
   */
  private serveBlocking(target: NodeId, query: BlockingQuery, passedIndex: number, waitMs: number, reply: (o: Outcome<BlockingReply>) => void): void {
    this.cluster.withHost(target, (host, sm) => host.read("readIndex", (o: ReadOutcome) => {
      if (o.kind !== "ready") return reply(o.kind === "rejected" ? refusal(o.leader, target) : { kind: "unknown" });
      const catalog = sm.catalog;
      const answer = (how: BlockingReply["how"]): void => {
        const result = query.run(catalog);
        reply({ kind: "done", value: { index: result.index, print: fingerprint(result.value), how } });
      };
      if (passedIndex === 0 || query.run(catalog).index > passedIndex) return answer("immediate");
      let finished = false;
      let cancel = (): void => {};
      let wakes = 0;
      const finish = (): void => {
        finished = true;
        cancel();
        answer("woken");
      };
      const onWake = (): void => {
        if (finished) return;
        if (query.run(catalog).index > passedIndex) return finish();
        this.counters.spinWakes++;
        if (++wakes >= spinWakesMax) return finish();
        cancel = catalog.watch(query.scopes, passedIndex, onWake);
      };
      cancel = catalog.watch(query.scopes, passedIndex, onWake);
      if (finished) return;
      this.world.after(waitMs, () => {
        if (finished) return;
        finished = true;
        cancel();
        // A server that crashed (or restarted with a new state machine) never answers.
        if (this.cluster.stateMachine(target) === sm) answer("timeout");
      });
    }));
  }

  private catalogOp(client: number): void {
    const agent = `agent-${this.rng.int(1, this.config.agents)}`;
    const roll = this.rng.next();
    const status = roll < 0.12 ? "critical" : roll < 0.2 ? "warning" : "passing";
    const service = `svc-${this.rng.int(1, 3)}`;
    const body = roll > 0.97 ? { op: "catalog.deregister" as const, Node: agent }
      : roll > 0.92 ? { op: "catalog.deregister" as const, Node: agent, ServiceID: service }
      : {
          op: "catalog.register" as const, Node: agent, Address: `10.0.0.${agent.length}`,
          Service: { Service: service, Port: 8000 + this.rng.int(0, 2), Tags: this.rng.chance(0.5) ? ["primary"] : [] },
          Checks: [
            { CheckID: "serfHealth", Name: "Serf Health Status", Status: status },
            { CheckID: `service:${service}`, Status: this.rng.chance(0.9) ? "passing" : "critical", ServiceID: service },
          ],
        };
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      if (o.kind === "done" && o.value.ok) this.counters.registrations++;
    });
  }

  /**
   * A prepared query created, updated or deleted in one of three slots, half the time bound to
   * the client's session: a session's end (expiry across failovers included) deletes it on every
   * server alike, which the identical-state check and the catalog's invariants judge.
   */
  private preparedQueryOp(client: number): void {
    const slot = this.rng.int(1, 3);
    const verb = this.rng.pick(["create", "create", "update", "delete"] as const);
    const session = this.sessionOf[client];
    const bound = session !== null && session !== undefined && this.rng.chance(0.5);
    const body = {
      op: "query" as const, Verb: verb,
      Query: {
        ID: `00000000-0000-4000-8000-${String(slot).padStart(12, "0")}`, Name: `q${slot}`, ...(bound ? { Session: session } : {}),
        Service: { Service: `svc-${slot}`, OnlyPassing: this.rng.chance(0.5), Tags: this.rng.chance(0.3) ? ["!primary"] : [] },
      },
    };
    this.call<ApplyResult>(client, (target, reply) => this.propose(target, body, reply), (o) => {
      if (o.kind === "done" && o.value.ok) this.counters.preparedQueryWrites++;
    });
  }

  private linkDelayMs(): number {
    return this.rng.int(0, this.config.clientLinkMaxMs);
  }
}

/** The blocking queries clients run, over the names the workload writes. */
function blockingQueries(config: CatalogWorkloadConfig): BlockingQuery[] {
  const list: BlockingQuery[] = [
    { name: "catalog/nodes", scopes: queryScopes.catalogNodes(), run: (c) => c.catalogNodes() },
    { name: "catalog/services", scopes: queryScopes.catalogServices(), run: (c) => c.catalogServices() },
    { name: "health/state/any", scopes: queryScopes.healthState(), run: (c) => c.healthState("any") },
    { name: "session/list", scopes: queryScopes.sessionList(), run: (c) => c.sessionList() },
    { name: "kv/lock/?recurse", scopes: queryScopes.kvList("lock/"), run: (c) => c.kvList("lock/") },
    { name: "kv/kv/?recurse", scopes: queryScopes.kvList("kv/"), run: (c) => c.kvList("kv/") },
    { name: "kv/kv/k0", scopes: queryScopes.kvGet("kv/k0"), run: (c) => c.kvGet("kv/k0") },
  ];
  for (let i = 1; i <= config.agents; i++) {
    const node = `agent-${i}`;
    list.push({ name: `catalog/node/${node}`, scopes: queryScopes.catalogNode(node), run: (c) => c.catalogNode(node) });
    list.push({ name: `health/node/${node}`, scopes: queryScopes.healthNode(node), run: (c) => c.healthNode(node) });
  }
  for (let i = 1; i <= 3; i++) {
    const service = `svc-${i}`;
    list.push({ name: `health/checks/${service}`, scopes: queryScopes.healthChecks(service), run: (c) => c.healthChecks(service) });
    list.push({ name: `health/service/${service}`, scopes: queryScopes.healthService(service), run: (c) => c.healthService(service) });
    list.push({ name: `catalog/service/${service}`, scopes: queryScopes.catalogService(service), run: (c) => c.catalogService(service) });
  }
  return list;
}

/** An answer as comparable text (KV values as their bytes). */
function fingerprint(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
}

/** A server that refuses while naming itself (busy handing over leadership) is no guide. */
function refusal<T>(leader: NodeId | null, from: NodeId): Outcome<T> {
  return { kind: "refused", leader: leader === from ? null : leader };
}

function proposeOutcome(outcome: ProposeOutcome<ApplyResult>, from: NodeId): Outcome<ApplyResult> {
  switch (outcome.kind) {
    case "applied": return { kind: "done", value: outcome.result };
    case "rejected": return refusal(outcome.leader, from);
    case "lost": return { kind: "refused", leader: null };
    case "unknown": return { kind: "unknown" };
  }
}
