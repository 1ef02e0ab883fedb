/**
 * The agent runtime: the three pure cores bound to real time, sockets and disk.
 *
 *   gossip (LAN, and WAN on servers) ── member events ──▶ leader reconciliation, autopilot, bootstrap
 *   Raft (servers) over the RPC port ── committed entries ──▶ the catalog
 *   HTTP / DNS ──▶ AgentBackend (this class) ──▶ local catalog | forwarded over RPC to a server / the leader
 *   local services and checks ── anti-entropy ──▶ catalog writes
 *
 * Decisions live in src/core (agent/, catalog/, raft/, gossip/); this class owns the timers,
 * sockets, files, and the order in which things happen.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalCheck, LocalService, SyncWrite } from "../core/agent/anti-entropy.ts";
import { LocalSync, type LocalSyncHost, type LocalView } from "../core/agent/local-sync.ts";
import { ServerDuties, defaultServerDutiesConfig, type DutiesHost, type DutiesMember } from "../core/agent/server-duties.ts";
import { bootstrapDecision, type ServerInfo } from "../core/agent/bootstrap.ts";
import { runQuery, queryScopes, validQuery } from "../core/agent/query.ts";
import { SharedQueries } from "../core/agent/query-share.ts";
import { ForwardedQueries } from "./forwarded-queries.ts";
import { WakeTurns } from "./wake-turns.ts";
import type { Coordinate } from "../core/gossip/messages.ts";
import { distanceSeconds } from "../core/gossip/vivaldi.ts";
import type { CatalogQuery, QueryValues } from "../core/agent/query-types.ts";
import { Catalog, catalogStateMachine } from "../core/catalog/catalog.ts";
import { encodeCommand, type Command } from "../core/catalog/commands.ts";
import { defaultCatalogConfig } from "../core/catalog/state.ts";
import { newSessionId } from "../core/catalog/session-id.ts";
import { defaultLanConfig, defaultWanConfig, type GossipConfig } from "../core/gossip/config.ts";
import type { GossipEvent, Member } from "../core/gossip/events.ts";
import { formatAddr } from "../core/gossip/node.ts";
import { defaultRaftConfig } from "../core/raft/config.ts";
import { RaftNode, type RaftStatus } from "../core/raft/node.ts";
import type { ConfState, Message, PersistedState } from "../core/raft/types.ts";
import { mulberry32, shuffle } from "../core/util/rng.ts";
import { MemRaftStorage } from "../../sim/storage/mem-storage.ts";
import { NodeFsDirectory } from "../storage/node-fs-directory.ts";
import type { RaftStorage } from "../storage/types.ts";
import { WalStorage } from "../storage/wal-storage.ts";
import type { GossipEndpoint } from "../transports/gossip-endpoint.ts";
import type { QueryKeyring } from "../core/gossip/query.ts";
import { GossipKeyring } from "../transports/gossip-keyring.ts";
import { openKeyringFile } from "../transports/gossip-keyring-file.ts";
import type { GossipLogger } from "../transports/gossip-log.ts";
import { startGossipMember } from "../transports/gossip-member.ts";
import { RaftTcpTransport, RpcClient, RpcError, RpcServer } from "../transports/rpc/index.ts";
import type { Transport } from "../transports/transport.ts";
import {
  ApiError, type AgentBackend, type AgentCheck, type AgentMember, type AgentService, type KeyringPoolAnswer, type ReadMeta, type ReadOptions,
  type ReadResult, type RaftServer, type UserEvent, type WriteOptions, type WriteRequest,
} from "./api.ts";
import type { AgentConfig } from "./config/types.ts";
import { VERSION } from "../cli/version.ts";
import { LocalState, MemoryStore, openLevelStore, type DurableStore } from "./local-state.ts";
import { RaftHost, defaultRaftHostConfig } from "./raft-host.ts";
import { compileRe2, type Re2 } from "../core/util/re2.ts";

/** The one version string (src/cli/version.ts, checked against package.json by its test). */
export const praetorVersion = VERSION;

/** The logging surface the agent needs (src/agent/log.ts provides it on pino). */
export interface AgentLogger {
  trace(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  named(name: string): AgentLogger;
}

export const silentLogger: AgentLogger = {
  trace() {}, debug() {}, info() {}, warn() {}, error() {}, named() { return silentLogger; },
};

const tickMs = 50;
const serfStatusCode: Record<string, number> = { alive: 1, leaving: 2, left: 3, failed: 4 };
/** A restore travels as one log entry and one forwarded RPC message (64 MiB): keep room for framing. */
const snapshotRestoreBytesMax = 48 * 1024 * 1024;

/** Consul's `raft_vsn` / protocol numbers advertised in member tags. */
const memberTags = { vsn: "2", vsn_min: "2", vsn_max: "3", raft_vsn: "3", build: `${praetorVersion}:praetor` };

/** A Raft transport whose close() leaves the shared socket open (a host is rebuilt on bootstrap). */
function sharedTransport(inner: RaftTcpTransport): Transport<Message> {
  return {
    localAddr: inner.localAddr,
    send: (to, message) => inner.send(to, message),
    onMessage: (handler) => inner.onMessage(handler),
    close: () => {},
  };
}

function ipOf(member: Member): string {
  const addr = formatAddr(member.addr, member.port);
  return addr.startsWith("[") ? addr.slice(1, addr.lastIndexOf("]")) : addr.slice(0, addr.lastIndexOf(":"));
}

/** The first private IPv4 address, as Consul advertises when bound to 0.0.0.0. */
function privateIp(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === "IPv4" && !a.internal && /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a.address)) return a.address;
    }
  }
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Pending<T> & { promise: Promise<T> } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof RpcError) {
    if (error.kind === "remote") return new ApiError(error.status, error.message);
    return new ApiError(500, `rpc error: ${error.message}`);
  }
  return new ApiError(500, (error as Error)?.message ?? String(error));
}

export interface AgentHooks {
  /** The agent left (PUT /v1/agent/leave or a signal): the process should exit. */
  onShutdown?(): void;
  /** SIGHUP or PUT /v1/agent/reload: re-read the configuration; resolve with the new one. */
  reloadConfig?(): Promise<AgentConfig>;
  /** Log lines for /v1/agent/monitor. */
  subscribeLogs?(level: string, listener: (line: string) => void, json: boolean): () => void;
}

export class Agent implements AgentBackend {
  readonly datacenter: string;
  readonly nodeName: string;
  readonly nodeId: string;
  /** The address peers reach this agent at (LAN gossip and RPC). */
  readonly advertiseAddr: string;
  readonly raftAddr: string;
  readonly log: AgentLogger;
  readonly startedMs = Date.now();

  private lan!: GossipEndpoint;
  private wan: GossipEndpoint | null = null;
  private rpcServer: RpcServer | null = null;
  private readonly rpc: RpcClient;
  private raftTransport: RaftTcpTransport | null = null;
  private raft: RaftHost<ReturnType<Catalog["applyBytes"]>> | null = null;
  private storage: RaftStorage | null = null;
  readonly catalog: Catalog | null;
  private bootstrapped = false;
  private bootstrapInFlight = false;
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private wasLeader = false;
  private duties: ServerDuties | null = null;
  private readonly sync: LocalSync;
  private syncKickPending = false;
  private readonly leaderWaiters = new Set<() => void>();
  private lastLeaderContactMs = Date.now();
  readonly local: LocalState;
  private store: DurableStore;
  private preferredServer: string | null = null;
  private readonly eventBuffer: UserEvent[] = [];
  private readonly eventWaiters = new Set<() => void>();
  private shared: SharedQueries | null = null;
  /** Blocking queries a write wakes, answered 256 per event-loop turn (wake-turns.ts). */
  private readonly wakeTurns = new WakeTurns(256);
  private forwarded: ForwardedQueries | null = null;
  private lastReadMeta: { atMs: number; meta: ReadMeta } | null = null;
  private stopped = false;
  private leaving = false;
  readonly counters = { raftWrites: 0, forwarded: 0 };
  private readonly rng = mulberry32(randomBytes(4).readUInt32LE(0));

  private constructor(readonly config: AgentConfig, logger: AgentLogger, nodeId: string, store: DurableStore, private readonly hooks: AgentHooks) {
    this.datacenter = config.datacenter;
    this.nodeName = config.nodeName;
    this.nodeId = nodeId;
    this.log = logger.named("agent");
    const bind = config.bindAddr === "0.0.0.0" || config.bindAddr === "::" ? privateIp() : config.bindAddr;
    this.advertiseAddr = config.advertiseAddr ?? bind;
    this.raftAddr = `${this.advertiseAddr}:${config.ports.server}`;
    this.catalog = config.server ? new Catalog(defaultCatalogConfig()) : null;
    this.store = store;
    this.local = new LocalState(store, this.nodeName, this.datacenter);
    this.sync = this.buildSync();
    this.local.onChange((urgent) => {
      this.sync.changed(urgent);
      // One sync for every change made in the same turn of the event loop (a service and its
      // checks), started before the next tick: clients read the catalog right after registering.
      if (urgent && !this.syncKickPending) {
        this.syncKickPending = true;
        setImmediate(() => {
          this.syncKickPending = false;
          if (this.timer !== null && !this.stopped) this.sync.runIfDue();
        });
      }
    });
    this.rpc = new RpcClient({ logger: this.rpcLogger() });
  }

  /** Opens the data dir, binds every port and joins: the agent is serving when this resolves. */
  static async start(config: AgentConfig, logger: AgentLogger = silentLogger, hooks: AgentHooks = {}): Promise<Agent> {
    let nodeId = config.nodeId;
    let store: DurableStore = new MemoryStore();
    if (!config.inMemory) {
      if (config.dataDir === undefined) throw new Error("data_dir is required unless -dev: set -data-dir");
      fs.mkdirSync(config.dataDir, { recursive: true });
      nodeId ??= readOrCreateNodeId(config.dataDir);
      store = await openLevelStore(path.join(config.dataDir, "agent-state"));
    }
    nodeId ??= randomUUID();
    const agent = new Agent(config, logger, nodeId, store, hooks);
    try {
      await agent.open();
    } catch (error) {
      await agent.shutdown().catch(() => {});
      throw error;
    }
    return agent;
  }

  private rpcLogger() {
    const log = this.log?.named("rpc") ?? silentLogger;
    return (level: string, msg: string, fields?: Record<string, unknown>) => {
      const fn = (log as unknown as Record<string, (m: string, f?: Record<string, unknown>) => void>)[level] ?? log.info;
      fn.call(log, msg, fields);
    };
  }

  private async open(): Promise<void> {
    const c = this.config;
    if (c.server) await this.openServer();
    this.lan = await startGossipMember({
      name: this.nodeName,
      bind: `${c.bindAddr === "0.0.0.0" ? this.advertiseAddr : c.bindAddr}:${c.ports.serfLan}`,
      tags: this.lanTags(),
      config: this.gossipConfig("lan"),
      compress: true,
      ...this.keyringOption("lan"),
      logger: this.gossipLogger("memberlist.lan"),
    }).catch((e: Error) => { throw this.bindError(e, c.ports.serfLan, "-serf-lan-port"); });
    this.lan.onEvent((e) => this.onLanEvent(e));
    if (c.server && c.ports.serfWan > 0) {
      this.wan = await startGossipMember({
        name: `${this.nodeName}.${this.datacenter}`,
        bind: `${c.bindAddr === "0.0.0.0" ? this.advertiseAddr : c.bindAddr}:${c.ports.serfWan}`,
        tags: this.lanTags(),
        config: this.gossipConfig("wan"),
        compress: true,
        ...this.keyringOption("wan"),
        logger: this.gossipLogger("memberlist.wan"),
      }).catch((e: Error) => { throw this.bindError(e, c.ports.serfWan, "-serf-wan-port"); });
    }
    await this.restoreLocalState();
    this.timer = setInterval(() => this.tick(), tickMs);
    this.startJoins();
    void this.rejoinRemembered().finally(() => void this.store.del("meta/left").catch(() => {}));
    if (c.server) this.maybeBootstrap();
    this.log.info("agent started", { node: this.nodeName, datacenter: this.datacenter, server: c.server });
  }

  private gossipLogger(name: string): GossipLogger {
    const log = this.log.named(name);
    return (level, msg, fields) => log[level](msg, fields as Record<string, unknown>);
  }

  /**
   * `-encrypt`: memberlist's AES-GCM on both pools (a bad key fails start-up, naming the flag).
   * With a data dir the pool's keyring lives in serf/local.keyring or serf/remote.keyring, as
   * Consul keeps it: keyring-query changes are written there, and it wins over -encrypt on restart.
   */
  private keyringOption(pool: "lan" | "wan"): { keyring?: GossipKeyring; queryKeyring?: QueryKeyring } {
    if (this.config.encrypt === undefined || this.config.encrypt === "") return {};
    try {
      if (!this.config.inMemory && this.config.dataDir !== undefined) {
        return openKeyringFile(path.join(this.config.dataDir, "serf", pool === "lan" ? "local.keyring" : "remote.keyring"), this.config.encrypt);
      }
      return { keyring: GossipKeyring.fromBase64(this.config.encrypt) };
    } catch (error) {
      throw new Error(`-encrypt / "encrypt": ${(error as Error).message} (make a key with "praetor keygen")`);
    }
  }

  private bindError(error: Error, port: number, flag: string): Error {
    if (/EADDRINUSE|in use/i.test(error.message)) return new Error(`port ${port} is already in use (set another with ${flag}): ${error.message}`);
    return error;
  }

  private gossipConfig(pool: "lan" | "wan"): GossipConfig {
    const base = pool === "lan" ? defaultLanConfig() : defaultWanConfig();
    const tuned = pool === "lan" ? this.config.gossipLan : this.config.gossipWan;
    return {
      ...base,
      probeIntervalMs: tuned.probeIntervalMs,
      probeTimeoutMs: tuned.probeTimeoutMs,
      gossipIntervalMs: tuned.gossipIntervalMs,
      gossipNodes: tuned.gossipNodes,
      suspicionMult: tuned.suspicionMult,
      retransmitMult: tuned.retransmitMult,
    } as GossipConfig;
  }

  private lanTags(): Record<string, string> {
    const c = this.config;
    const tags: Record<string, string> = { role: c.server ? "consul" : "node", dc: this.datacenter, segment: "", id: this.nodeId, ...memberTags };
    if (c.server) {
      tags.port = String(c.ports.server);
      if (c.bootstrapExpect > 0) tags.expect = String(c.bootstrapExpect);
      if (c.bootstrap) tags.bootstrap = "1";
    }
    return tags;
  }

  // ---------------------------------------------------------------- Raft (servers)

  private async openServer(): Promise<void> {
    const c = this.config;
    this.rpcServer = await RpcServer.listen({
      host: c.bindAddr === "0.0.0.0" ? "0.0.0.0" : c.bindAddr, port: c.ports.server, logger: this.rpcLogger(),
    }).catch((e: Error) => { throw this.bindError(e, c.ports.server, "-server-port"); });
    this.raftTransport = new RaftTcpTransport({ server: this.rpcServer, localAddr: this.raftAddr });
    this.registerRpcHandlers();
    const bootstrapConf = this.readBootstrapConf();
    this.storage = this.openRaftStorage(bootstrapConf);
    const persisted = this.storage.load();
    this.bootstrapped = bootstrapConf !== null || hasRaftState(persisted);
    this.buildHost();
    this.duties = this.buildDuties();
  }

  private bootstrapFile(): string | null {
    return this.config.inMemory || this.config.dataDir === undefined ? null : path.join(this.config.dataDir, "raft", "bootstrap.json");
  }

  private readBootstrapConf(): ConfState | null {
    const file = this.bootstrapFile();
    if (file === null || !fs.existsSync(file)) return null;
    try {
      const conf = JSON.parse(fs.readFileSync(file, "utf8")) as ConfState;
      if (!Array.isArray(conf.voters) || !Array.isArray(conf.learners)) throw new Error("voters and learners must be lists");
      return conf;
    } catch (error) {
      throw new Error(`${file} is damaged (${(error as Error).message}): restore it from a backup, or remove the data dir's raft folder to rejoin as a new server`);
    }
  }

  private openRaftStorage(initialConf: ConfState | null): RaftStorage {
    if (this.config.inMemory || this.config.dataDir === undefined) {
      const storage = new MemRaftStorage();
      if (initialConf !== null) {
        const load = storage.load.bind(storage);
        storage.load = () => ({ ...load(), initialConf });
      }
      return storage;
    }
    return new WalStorage(new NodeFsDirectory(path.join(this.config.dataDir, "raft")), initialConf === null ? {} : { initialConf });
  }

  private buildHost(): void {
    const m = this.config.raftMultiplier;
    const raftConfig = defaultRaftConfig(this.raftAddr, {
      tickMs,
      heartbeatTimeoutMs: 1000 * m,
      electionTimeoutMs: 1000 * m,
      leaderLeaseTimeoutMs: 500 * m,
      heartbeatIntervalMs: 100 * m,
    });
    this.raft = new RaftHost(
      this.storage!,
      sharedTransport(this.raftTransport!),
      catalogStateMachine(this.catalog!),
      (persisted) => new RaftNode(raftConfig, persisted, mulberry32(randomBytes(4).readUInt32LE(0))),
      defaultRaftHostConfig({ snapshotEveryEntries: this.config.raftSnapshotThreshold, requestTimeoutTicks: Math.ceil(this.config.rpcHoldTimeoutMs / tickMs), scheduleDrain: (drain) => setImmediate(drain) }),
      { onSettled: (changed) => { if (changed) this.onRaftChange(); } },
    );
  }

  private maybeBootstrap(): void {
    if (!this.config.server || this.bootstrapped || this.bootstrapInFlight) return;
    const servers = this.knownServers();
    const self: ServerInfo = { name: this.nodeName, raftAddr: this.raftAddr, datacenter: this.datacenter, expect: this.config.bootstrapExpect, bootstrap: this.config.bootstrap };
    const decision = bootstrapDecision(self, servers.filter((s) => s.raftAddr !== this.raftAddr));
    if (decision.kind !== "bootstrap") {
      if (decision.kind === "refuse") this.log.warn(`not bootstrapping: ${decision.reason}`);
      return;
    }
    this.bootstrapInFlight = true;
    void this.bootstrap(decision.voters).finally(() => { this.bootstrapInFlight = false; });
  }

  private async bootstrap(voters: readonly string[]): Promise<void> {
    // Consul asks every peer first: one already in a cluster means this server joins it instead.
    for (const peer of voters) {
      if (peer === this.raftAddr) continue;
      try {
        const peers = await this.rpc.call(peer, "status.peers", {}, { timeoutMs: 2000 }) as string[];
        if (Array.isArray(peers) && peers.length > 0) {
          // A peer that bootstrapped the same set a moment earlier: the same initial configuration.
          const same = peers.length === voters.length && [...peers].sort().every((p, i) => p === voters[i]);
          if (same) break;
          this.log.info("not bootstrapping: a peer is already part of a cluster", { peer, peers });
          this.bootstrapped = true;
          return;
        }
      } catch (error) {
        this.log.debug("bootstrap: peer not answering yet", { peer, error: (error as Error).message });
        return;
      }
    }
    if (this.bootstrapped || this.stopped) return;
    const conf: ConfState = { voters: [...voters], learners: [] };
    const file = this.bootstrapFile();
    if (file !== null) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(conf));
      const fd = fs.openSync(tmp, "r");
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, file);
    }
    this.raft!.stop();
    this.storage = this.openRaftStorage(conf);
    this.buildHost();
    this.bootstrapped = true;
    this.log.info("bootstrapping Raft", { voters: conf.voters });
  }

  private knownServers(): ServerInfo[] {
    const out: ServerInfo[] = [];
    for (const m of this.lan?.members() ?? []) {
      if (m.tags.role !== "consul" || m.status !== "alive") continue;
      const port = Number(m.tags.port ?? "8300");
      out.push({
        name: m.name, raftAddr: `${ipOf(m)}:${port}`, datacenter: m.tags.dc ?? "",
        expect: Number(m.tags.expect ?? "0") || 0, bootstrap: m.tags.bootstrap === "1",
      });
    }
    return out;
  }

  private isLeader(): boolean {
    return this.raft?.softState.role === "leader";
  }

  private leaderAddr(): string | null {
    return this.raft?.softState.leader ?? null;
  }

  private onRaftChange(): void {
    const leader = this.leaderAddr();
    if (leader !== null) {
      for (const wake of this.leaderWaiters) wake();
      this.leaderWaiters.clear();
    }
    const isLeader = this.isLeader();
    if (isLeader && !this.wasLeader) {
      this.log.info("cluster leadership acquired", { term: this.raft!.node.status().term });
      this.wasLeader = true;
    } else if (!isLeader && this.wasLeader) {
      this.log.info("cluster leadership lost");
      this.wasLeader = false;
    }
    if (leader !== null) this.sync.soon();
  }

  private tick(): void {
    if (this.stopped) return;
    this.ticks++;
    try {
      this.raft?.tick();
      if (this.raft !== null) {
        const st = this.raft.node.status();
        if (st.role === "leader" || (st.leader !== null && st.role === "follower")) this.lastLeaderContactMs = Date.now();
      }
      this.duties?.tick();
      this.sync.tick();
      this.shared?.tick();
      if (this.ticks % 20 === 0) this.maybeBootstrap();
    } catch (error) {
      this.log.error("tick failed", { error: (error as Error).stack });
    }
  }

  // ---------------------------------------------------------------- Leader duties (src/core/agent/server-duties.ts)

  private dutiesMembers(): DutiesMember[] {
    return (this.lan?.members() ?? []).map((m) => ({ name: m.name, addr: ipOf(m), status: m.status, nodeId: m.tags.id ?? "", tags: m.tags }));
  }

  private dutiesMember(m: Member): DutiesMember {
    return { name: m.name, addr: ipOf(m), status: m.status, nodeId: m.tags.id ?? "", tags: m.tags };
  }

  private buildDuties(): ServerDuties {
    const host: DutiesHost = {
      raftId: this.raftAddr,
      datacenter: this.datacenter,
      raftStatus: () => this.raft!.node.status() as RaftStatus,
      propose: (write, done) => {
        this.proposeLocal(write as WriteRequest).then(() => done(true), (error: Error) => {
          this.log.debug("leader write not applied", { op: write.op, error: error.message });
          done(false);
        });
      },
      proposeConfChange: (change, done) => {
        this.log.info("autopilot: membership change", { change });
        this.raft!.proposeConfChange(change, (outcome) => {
          if (outcome.kind !== "applied") this.log.debug("autopilot change not applied", { change, outcome: outcome.kind });
          done(outcome.kind === "applied");
        });
      },
      lanMembers: () => this.dutiesMembers(),
      nowMs: () => Date.now(),
    };
    return new ServerDuties(host, this.catalog!, defaultServerDutiesConfig(tickMs));
  }

  private onLanEvent(event: GossipEvent): void {
    switch (event.type) {
      case "member-join":
      case "member-update":
      case "member-failed":
      case "member-leave":
        this.log.info(`member ${event.type.slice(7)}: ${event.member.name}`, { addr: ipOf(event.member), status: event.member.status });
        this.rememberMember(event.member);
        this.duties?.onMemberEvent(this.dutiesMember(event.member));
        if (this.config.server) this.maybeBootstrap();
        break;
      case "member-reap":
        this.log.info(`member reaped: ${event.member.name}`);
        void this.store.del(`member/${event.member.name}`).catch(() => {});
        this.duties?.onMemberEvent(this.dutiesMember(event.member), true);
        break;
      case "user-event":
        this.onUserEvent(event.name, event.payload, event.lTime);
        break;
      case "join-complete":
      case "join-failed":
      case "left":
        break;
    }
  }

  // ---------------------------------------------------------------- Joining

  /**
   * The LAN members seen, kept in the agent's store (Consul's serf snapshot): after a restart the
   * agent rejoins them, so a cluster whose servers all restarted finds its clients again.
   */
  private rememberMember(member: Member): void {
    if (member.name === this.nodeName || this.config.inMemory) return;
    const key = `member/${member.name}`;
    if (member.status === "left") void this.store.del(key).catch(() => {});
    else void this.store.put(key, formatAddr(member.addr, member.port)).catch(() => {});
  }

  private async rejoinRemembered(): Promise<void> {
    const remembered = (await this.store.entries("member/")).map(([, addr]) => String(addr));
    if (remembered.length === 0) return;
    if (this.config.rejoinAfterLeave === false && (await this.store.entries("meta/left")).length > 0) {
      this.log.info("not rejoining the members of the last run: this agent left gracefully (set -rejoin to rejoin)");
      return;
    }
    for (let attempt = 1; attempt <= 5 && !this.stopped; attempt++) {
      try {
        await this.joinPool(this.lan, remembered);
        this.log.info("rejoined members of the last run", { members: remembered.length });
        return;
      } catch {
        await sleep(2_000);
      }
    }
  }

  private startJoins(): void {
    const c = this.config;
    if (c.startJoin.length > 0) void this.joinLan(c.startJoin).catch((e) => this.log.warn(`join failed: ${(e as Error).message}`));
    if (c.retryJoin.length > 0) void this.retryJoin(c.retryJoin, c.retryIntervalMs, c.retryMax, (addrs) => this.joinLan(addrs), "LAN");
    if (this.wan !== null) {
      if (c.startJoinWan.length > 0) void this.joinWan(c.startJoinWan).catch((e) => this.log.warn(`WAN join failed: ${(e as Error).message}`));
      if (c.retryJoinWan.length > 0) void this.retryJoin(c.retryJoinWan, c.retryIntervalWanMs, c.retryMaxWan, (a) => this.joinWan(a), "WAN");
    }
  }

  private async retryJoin(addrs: readonly string[], intervalMs: number, max: number, join: (a: readonly string[]) => Promise<number>, pool: string): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const n = await join(addrs);
        this.log.info(`retry-join ${pool}: joined`, { addrs, n });
        return;
      } catch (error) {
        this.log.warn(`retry-join ${pool}: attempt ${attempt} failed: ${(error as Error).message}`);
        if (max > 0 && attempt >= max) {
          this.log.error(`retry-join ${pool}: giving up after ${attempt} attempts`);
          return;
        }
        // Consul waits the full retry_interval; before the first leader a shorter pause forms clusters faster.
        await sleep(Math.min(intervalMs, attempt <= 10 ? 1000 : intervalMs));
      }
    }
  }

  private withPort(addr: string, port: number): string {
    if (addr.startsWith("[")) return addr.includes("]:") ? addr : `${addr}:${port}`;
    return addr.includes(":") && addr.split(":").length === 2 ? addr : `${addr}:${port}`;
  }

  private async joinLan(addrs: readonly string[]): Promise<number> {
    return this.joinPool(this.lan, addrs.map((a) => this.withPort(a, this.config.ports.serfLan)));
  }

  private async joinWan(addrs: readonly string[]): Promise<number> {
    if (this.wan === null) throw new ApiError(500, "WAN pool not enabled: only servers join the WAN pool");
    return this.joinPool(this.wan, addrs.map((a) => this.withPort(a, this.config.ports.serfWan)));
  }

  /**
   * Joins through every one of `targets` (a push/pull with each, as memberlist's Join), done once
   * one answers. This agent's own address is skipped: an
   * operator lists every server in retry_join, and "joining" oneself would end the retries in a
   * pool of one.
   */
  private async joinPool(endpoint: GossipEndpoint, targets: string[]): Promise<number> {
    const self = endpoint.localAddr;
    const others = targets.filter((t) => t !== self && t !== self.replace(/^0\.0\.0\.0:/, `${this.advertiseAddr}:`));
    if (others.length === 0) return 0;
    await Promise.race([
      endpoint.joinAndWait(others),
      sleep(10_000).then(() => { throw new Error(`no answer from ${others.join(", ")} within 10 s`); }),
    ]);
    return others.length;
  }

  // ---------------------------------------------------------------- Writes

  private async waitForLeader(): Promise<string> {
    const deadline = Date.now() + this.config.rpcHoldTimeoutMs;
    for (;;) {
      const leader = this.leaderAddr();
      if (leader !== null) return leader;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new ApiError(500, "No cluster leader");
      await new Promise<void>((resolve) => {
        const wake = () => resolve();
        this.leaderWaiters.add(wake);
        setTimeout(() => { this.leaderWaiters.delete(wake); resolve(); }, Math.min(remaining, 250)).unref();
      });
    }
  }

  /** Proposes on this server, which must lead; resolves with the command's answer. */
  private proposeLocal(request: WriteRequest): Promise<unknown> {
    const host = this.raft;
    if (host === null) return Promise.reject(new ApiError(500, "not a server"));
    const command = { ...request, v: 1, nowMs: Date.now() } as Command & { ID?: string };
    if (command.op === "session.create" && !command.ID) command.ID = newSessionId(this.rng);
    // Consul draws a prepared query's ID on the leader, before the log: every server applies the same one.
    if (command.op === "query" && command.Verb === "create" && !command.Query.ID) command.Query = { ...command.Query, ID: newSessionId(this.rng) };
    const done = deferred<unknown>();
    this.counters.raftWrites++;
    host.propose(encodeCommand(command as Command), (outcome) => {
      switch (outcome.kind) {
        case "applied": {
          const result = outcome.result;
          if (result.ok) done.resolve(result.value);
          else done.reject(new ApiError(result.error.status, result.error.message, result.error.errors));
          return;
        }
        case "rejected": return done.reject(new NotLeader(outcome.leader));
        case "lost": return done.reject(new ApiError(500, `leadership lost while committing the request (index ${outcome.index}): retry`));
        case "unknown": return done.reject(new ApiError(500, `timed out waiting for the request to commit: ${outcome.reason}`));
      }
    });
    return done.promise;
  }

  /** A write on a server: proposed here when leading, else forwarded to the leader. */
  private async serverWrite(request: WriteRequest): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const leader = await this.waitForLeader();
      try {
        if (leader === this.raftAddr) return await this.proposeLocal(request);
        this.counters.forwarded++;
        return await this.rpc.call(leader, "write", { request }, { timeoutMs: this.config.rpcHoldTimeoutMs + 2000 });
      } catch (error) {
        const retry = error instanceof NotLeader || (error instanceof RpcError && error.kind === "unreachable");
        if (!retry || attempt >= 3) throw asApiError(error);
        await sleep(100);
      }
    }
  }

  async write(request: WriteRequest, options: WriteOptions = {}): Promise<unknown> {
    this.checkDc(options.dc);
    if (!this.config.server) return this.toServer("write", { request });
    return this.serverWrite(request);
  }

  private checkDc(dc: string | undefined): void {
    if (dc !== undefined && dc !== "" && dc.toLowerCase() !== this.datacenter) throw new ApiError(500, "No path to datacenter");
  }

  /** Clients: send to a live server of this datacenter, another one if it is unreachable. */
  private async toServer(method: string, body: unknown, timeoutMs = this.config.rpcHoldTimeoutMs + 5000, signal?: AbortSignal): Promise<unknown> {
    const servers = this.knownServers().filter((s) => s.datacenter === this.datacenter).map((s) => s.raftAddr);
    if (servers.length === 0) throw new ApiError(500, "No known Consul servers");
    const ordered = this.preferredServer !== null && servers.includes(this.preferredServer)
      ? [this.preferredServer, ...servers.filter((s) => s !== this.preferredServer)]
      : shuffle(this.rng, servers);
    let lastError: unknown = null;
    for (const server of ordered) {
      try {
        this.counters.forwarded++;
        const result = await this.rpc.call(server, method, body, { timeoutMs, ...(signal ? { signal } : {}) });
        this.preferredServer = server;
        return result;
      } catch (error) {
        lastError = error;
        if (error instanceof RpcError && (error.kind === "unreachable" || error.kind === "disconnected")) {
          if (this.preferredServer === server) this.preferredServer = null;
          continue;
        }
        throw asApiError(error);
      }
    }
    throw asApiError(lastError);
  }

  // ---------------------------------------------------------------- Reads

  async query<K extends CatalogQuery["kind"]>(query: Extract<CatalogQuery, { kind: K }>, options: ReadOptions): Promise<ReadResult<QueryValues[K]>> {
    this.checkDc(options.dc);
    const { signal, near, ...wire } = options;
    const result = !this.config.server
      ? await this.forwardedQueries().query(query, wire, signal) as ReadResult<QueryValues[K]>
      : await this.serverQuery(query, wire, signal) as ReadResult<QueryValues[K]>;
    if (query.kind === "preparedQueryExecute") return { meta: result.meta, value: this.arrangeExecution(result.value as QueryValues["preparedQueryExecute"], near) as QueryValues[K] };
    if (near === undefined || near === "" || !Array.isArray(result.value)) return result;
    return { meta: result.meta, value: this.sortByDistance(query.kind, result.value, near) as QueryValues[K] };
  }

  /**
   * Consul's Execute after the lookup: shuffle the instances, sort them by distance from `near`
   * (the request's, else the query's Service.Near; `_agent` is this agent), and put the near node
   * itself first if it is among the first ten.
   */
  private arrangeExecution(value: QueryValues["preparedQueryExecute"], requestNear: string | undefined): QueryValues["preparedQueryExecute"] {
    if (!value.ok) return value;
    const near = requestNear !== undefined && requestNear !== "" ? requestNear : value.result.near;
    let nodes = shuffle(this.rng, [...value.result.Nodes]);
    if (near !== "") {
      nodes = this.sortByDistance("healthService", nodes, near) as typeof nodes;
      const self = near === "_agent" ? this.nodeName : near;
      const at = nodes.slice(0, 10).findIndex((entry) => entry.Node.Node === self);
      if (at > 0) [nodes[0], nodes[at]] = [nodes[at]!, nodes[0]!];
    }
    return { ok: true, result: { ...value.result, Nodes: nodes } };
  }

  /** A client agent's reads, identical blocking ones sharing one call to a server (forwarded-queries.ts). */
  private forwardedQueries(): ForwardedQueries {
    this.forwarded ??= new ForwardedQueries(
      (query, options, signal) => this.toServer("query", { query, options }, forwardTimeoutMs(options.waitMs, this.config.rpcHoldTimeoutMs), signal) as Promise<ReadResult<unknown>>,
      { idleMs: 1000, groupWaitMs: this.config.defaultQueryTimeMs },
    );
    return this.forwarded;
  }

  /**
   * Vivaldi coordinates by node name, as this agent's LAN pool last heard them (each member's
   * own coordinate arrives in its probe acks; this agent's is its own).
   */
  private coordinates(): Map<string, Coordinate> {
    const out = new Map<string, Coordinate>();
    for (const member of this.lan?.members() ?? []) {
      if (member.coordinate !== undefined && member.status !== "left") out.set(member.name, member.coordinate);
    }
    return out;
  }

  /**
   * Consul's sortNodesByDistanceFrom: a stable sort by the estimated RTT from `near` (lib.ComputeDistance,
   * height and adjustments included); nodes without a coordinate last; no sort when `near` has none.
   */
  private sortByDistance(kind: CatalogQuery["kind"], list: readonly unknown[], near: string): unknown[] {
    const nodeOf: ((item: unknown) => string) | null =
      kind === "catalogNodes" || kind === "catalogService" ? (item) => (item as { Node: string }).Node
      : kind === "healthService" ? (item) => (item as { Node: { Node: string } }).Node.Node
      : null;
    if (nodeOf === null) return [...list];
    const coordinates = this.coordinates();
    const from = coordinates.get(near === "_agent" ? this.nodeName : near);
    if (from === undefined) return [...list];
    const distanceOf = (item: unknown): number => {
      const to = coordinates.get(nodeOf(item));
      return to === undefined || to.Vec.length !== from.Vec.length ? Infinity : distanceSeconds(from, to);
    };
    return list.map((item, at) => ({ item, at, distance: distanceOf(item) }))
      .sort((a, b) => a.distance - b.distance || a.at - b.at)
      .map((entry) => entry.item);
  }

  private async serverQuery(query: CatalogQuery, options: ReadOptions, signal?: AbortSignal): Promise<ReadResult<unknown>> {
    if (options.consistency !== "stale" || (options.maxStaleMs !== undefined && Date.now() - this.lastLeaderContactMs > options.maxStaleMs)) {
      const leader = await this.waitForLeader();
      if (leader !== this.raftAddr) {
        this.counters.forwarded++;
        try {
          return await this.rpc.call(leader, "query", { query, options: { ...options, consistency: options.consistency === "stale" ? "default" : options.consistency } }, {
            timeoutMs: forwardTimeoutMs(options.waitMs, this.config.rpcHoldTimeoutMs), ...(signal ? { signal } : {}),
          }) as ReadResult<unknown>;
        } catch (error) {
          throw asApiError(error);
        }
      }
      await this.raftRead(options.consistency === "consistent" ? "readIndex" : "lease");
    }
    return this.blockingRun(query, options, signal);
  }

  private raftRead(mode: "readIndex" | "lease"): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raft!.read(mode, (outcome) => {
        if (outcome.kind === "ready") return resolve();
        if (outcome.kind === "rejected" && mode === "lease") return void this.raftRead("readIndex").then(resolve, reject);
        reject(new ApiError(500, outcome.kind === "timeout" ? "timed out confirming leadership for a consistent read" : `No cluster leader (${outcome.reason})`));
      });
    });
  }

  private readMeta(index: number, consistency: ReadOptions["consistency"]): ReadMeta {
    const nowMs = Date.now();
    const cached = this.lastReadMeta;
    // One write may wake thousands of waiters in the same millisecond: they share one Raft status read.
    if (cached !== null && cached.atMs === nowMs && cached.meta.index === Math.max(1, index) && cached.meta.consistency === consistency) return cached.meta;
    const status = this.raft?.node.status();
    const meta: ReadMeta = {
      index: Math.max(1, index),
      knownLeader: (status?.leader ?? null) !== null,
      lastContactMs: status?.role === "leader" ? 0 : Math.max(0, nowMs - this.lastLeaderContactMs),
      consistency,
    };
    this.lastReadMeta = { atMs: nowMs, meta };
    return meta;
  }

  private evaluate(query: CatalogQuery, filter: ((v: unknown) => boolean) | null): { index: number; value: unknown } {
    const result = runQuery(this.catalog!, query as Extract<CatalogQuery, { kind: CatalogQuery["kind"] }>);
    if (filter === null) return result;
    if (Array.isArray(result.value)) return { index: result.index, value: (result.value as unknown[]).filter(filter) };
    // Consul filters a node's Services map (catalog/node/:node and node-services), not the node.
    if (query.kind === "catalogNode" && result.value !== null && typeof result.value === "object") {
      const node = result.value as { Services: Record<string, unknown> };
      return { index: result.index, value: { ...node, Services: Object.fromEntries(Object.entries(node.Services).filter(([, service]) => filter(service))) } };
    }
    return result;
  }

  /** Identical blocking queries share one evaluation per write (src/core/agent/query-share.ts). */
  private sharedQueries(): SharedQueries {
    this.shared ??= new SharedQueries({
      evaluate: (query, filter) => this.evaluate(query, filter),
      scopes: (query) => queryScopes(query),
      scopeIndex: (scopes) => this.catalog!.scopeIndex(scopes),
      watch: (scopes, fromIndex, wake) => this.catalog!.watch(scopes, fromIndex, wake),
      defer: (job) => queueMicrotask(job),
    });
    return this.shared;
  }

  private async blockingRun(query: CatalogQuery, options: ReadOptions, signal?: AbortSignal): Promise<ReadResult<unknown>> {
    const filter = options.filter ? await compileFilterLazy(options.filter) : null;
    const minIndex = options.index ?? 0;
    const shared = this.sharedQueries();
    if (minIndex === 0) {
      const result = shared.peek(query, options.filter) ?? this.evaluate(query, filter);
      return { meta: this.readMeta(result.index, options.consistency), value: result.value };
    }
    const current = shared.current(query, options.filter, filter);
    if (current.index > minIndex || this.stopped || signal?.aborted) return { meta: this.readMeta(current.index, options.consistency), value: current.value };
    const waitMs = Math.min(options.waitMs ?? this.config.defaultQueryTimeMs, this.config.maxQueryTimeMs);
    const jitterMs = Math.floor(Math.random() * (waitMs / 16));
    const woken = await new Promise<{ index: number; value: unknown } | null>((resolve) => {
      const finish = (answer: { index: number; value: unknown } | null): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        cancel();
        resolve(answer);
      };
      const onAbort = (): void => finish(null);
      const timer = setTimeout(() => finish(null), waitMs + jitterMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      const cancel = shared.wait(query, options.filter, filter, { minIndex, baseline: current.json, wake: (answer) => this.wakeTurns.run(() => finish(answer)) });
    });
    // Timed out or abandoned: the current answer, whatever it is, with an index that never goes back.
    const result = woken ?? shared.current(query, options.filter, filter);
    return { meta: this.readMeta(Math.max(result.index, minIndex), options.consistency), value: result.value };
  }

  async datacenters(): Promise<string[]> {
    return [this.datacenter];
  }

  // ---------------------------------------------------------------- RPC handlers (servers)

  private registerRpcHandlers(): void {
    const s = this.rpcServer!;
    s.handle("write", async (body) => {
      const request = (body as { request?: unknown })?.request;
      if (typeof request !== "object" || request === null || typeof (request as { op?: unknown }).op !== "string") throw new ApiError(400, "malformed write request");
      return this.serverWrite(request as WriteRequest);
    });
    s.handle("query", async (body, meta) => {
      const { query, options } = (body ?? {}) as { query?: unknown; options?: ReadOptions };
      if (!validQuery(query)) throw new ApiError(400, "malformed query");
      const opts: ReadOptions = { consistency: options?.consistency === "consistent" || options?.consistency === "stale" ? options.consistency : "default", ...sanitizeReadOptions(options) };
      return this.serverQuery(query, opts, meta.signal);
    });
    s.handle("status.leader", async () => this.leaderAddr() ?? "");
    s.handle("status.peers", async () => this.raftPeers());
    s.handle("raft.configuration", async () => this.raftConfigurationLocal());
    s.handle("raft.removePeer", async (body) => this.removeRaftPeer(body as { id?: string; address?: string }));
    s.handle("raft.transferLeader", async (body) => this.transferLeader((body as { id?: string })?.id));
  }

  private raftPeers(): string[] {
    if (this.raft === null || !this.bootstrapped && this.raft.node.status().term === 0) return [];
    const conf = this.raft.node.status().conf;
    return [...conf.voters].sort();
  }

  // ---------------------------------------------------------------- Status and operator

  async statusLeader(options: WriteOptions = {}): Promise<string> {
    this.checkDc(options.dc);
    if (!this.config.server) return await this.toServer("status.leader", {}) as string;
    return this.leaderAddr() ?? "";
  }

  async statusPeers(options: WriteOptions = {}): Promise<string[]> {
    this.checkDc(options.dc);
    if (!this.config.server) return await this.toServer("status.peers", {}) as string[];
    return this.raftPeers();
  }

  private raftConfigurationLocal(): { Servers: RaftServer[]; Index: number } {
    const st = this.raft!.node.status();
    const names = new Map<string, { name: string; id: string }>();
    for (const m of this.lan.members()) if (m.tags.role === "consul") names.set(`${ipOf(m)}:${Number(m.tags.port ?? "8300")}`, { name: m.name, id: m.tags.id ?? "" });
    const servers: RaftServer[] = [];
    for (const [ids, voter] of [[st.conf.voters, true], [st.conf.learners, false]] as const) {
      for (const id of ids) {
        const n = names.get(id);
        servers.push({ ID: n?.id || id, Node: n?.name ?? id, Address: id, Leader: st.leader === id, ProtocolVersion: "3", Voter: voter });
      }
    }
    // Consul answers the index of the configuration's own log entry (hashicorp/raft writes the
    // bootstrap configuration at index 1), not the commit index; Praetor's bootstrap
    // configuration has no entry, so it counts as 1.
    return { Servers: servers, Index: Math.max(1, st.confIndex) };
  }

  async raftConfiguration(options: ReadOptions): Promise<{ Servers: RaftServer[]; Index: number }> {
    this.checkDc(options.dc);
    if (!this.config.server) return await this.toServer("raft.configuration", {}) as { Servers: RaftServer[]; Index: number };
    return this.raftConfigurationLocal();
  }

  async removeRaftPeer(by: { id?: string; address?: string }): Promise<void> {
    if (!this.config.server) return void await this.toServer("raft.removePeer", by);
    const leader = await this.waitForLeader();
    if (leader !== this.raftAddr) return void await this.rpc.call(leader, "raft.removePeer", by).catch((e) => { throw asApiError(e); });
    const conf = this.raft!.node.status().conf;
    const all = [...conf.voters, ...conf.learners];
    let target = by.address;
    if (target === undefined && by.id !== undefined) target = this.raftConfigurationLocal().Servers.find((s) => s.ID === by.id || s.Address === by.id)?.Address;
    if (target === undefined || !all.includes(target)) throw new ApiError(500, `address "${by.address ?? by.id ?? ""}" was not found in the Raft configuration`);
    await new Promise<void>((resolve, reject) => {
      this.raft!.proposeConfChange({ type: "remove", node: target! }, (o) => (o.kind === "applied" ? resolve() : reject(new ApiError(500, `removing ${target} failed: ${o.kind}`))));
    });
  }

  async transferLeader(id?: string): Promise<void> {
    if (!this.config.server) return void await this.toServer("raft.transferLeader", { id });
    const leader = await this.waitForLeader();
    if (leader !== this.raftAddr) return void await this.rpc.call(leader, "raft.transferLeader", { id }).catch((e) => { throw asApiError(e); });
    const conf = this.raft!.node.status().conf;
    const target = id === undefined ? conf.voters.find((v) => v !== this.raftAddr)
      : this.raftConfigurationLocal().Servers.find((s) => s.ID === id || s.Address === id)?.Address;
    if (target === undefined) throw new ApiError(500, id === undefined ? "no other voter to transfer leadership to" : `server id "${id}" not found`);
    this.raft!.transferLeadership(target);
  }

  async autopilotHealth(): Promise<unknown> {
    const conf = await this.raftConfiguration({ consistency: "default" });
    const members = new Map(this.lan.members().map((m) => [m.name, m]));
    const servers = conf.Servers.map((s) => {
      const healthy = members.get(s.Node)?.status === "alive" || s.Address === this.raftAddr;
      return {
        ID: s.ID, Name: s.Node, Address: s.Address, SerfStatus: members.get(s.Node)?.status ?? "none", Version: praetorVersion,
        Leader: s.Leader, LastContact: "0s", LastTerm: 0, LastIndex: conf.Index, Healthy: healthy, Voter: s.Voter, StableSince: new Date(this.startedMs).toISOString(),
      };
    });
    const healthy = servers.filter((s) => s.Healthy && s.Voter).length;
    const voters = servers.filter((s) => s.Voter).length;
    const quorum = Math.floor(voters / 2) + 1;
    return { Healthy: healthy >= quorum && servers.every((s) => s.Healthy), FailureTolerance: Math.max(0, healthy - quorum), Servers: servers };
  }

  async snapshotSave(options: ReadOptions): Promise<{ meta: ReadMeta; data: Uint8Array }> {
    if (!this.config.server) throw new ApiError(500, "snapshot save must be sent to a server's HTTP API for now");
    await this.serverQuery({ kind: "kvKeys", prefix: "\u0000" }, { ...options, index: 0 });
    return { meta: this.readMeta(this.catalog!.appliedIndex, options.consistency), data: this.catalog!.snapshot() };
  }

  /**
   * PUT /v1/snapshot: the archive goes through the log as one entry (forwarded to the leader like
   * any write), so every server replaces its state at the same index and a lagging or restarted
   * server gets it by replication or the next snapshot. Indexes move past every one served before.
   */
  async snapshotRestore(data: Uint8Array): Promise<void> {
    if (data.length > snapshotRestoreBytesMax) {
      throw new ApiError(413, `snapshot archive of ${data.length} bytes is above the ${snapshotRestoreBytesMax}-byte limit of a restore through the log`);
    }
    await this.write({ op: "snapshot.restore", Data: data });
  }

  // ---------------------------------------------------------------- This agent

  async self(): Promise<Record<string, unknown>> {
    const member = this.members({ wan: false }).find((m) => m.Name === this.nodeName);
    const wanMember = this.members({ wan: true }).find((m) => m.Name === `${this.nodeName}.${this.datacenter}`);
    // Consul prints its Serf addresses as Go's net.TCPAddr with the scheme ("tcp://[::1]:8301").
    const serfAddr = (m: AgentMember | undefined) => (m === undefined ? "" : `tcp://${m.Addr.includes(":") ? `[${m.Addr}]` : m.Addr}:${m.Port}`);
    return {
      Config: {
        Datacenter: this.datacenter, PrimaryDatacenter: this.config.primaryDatacenter, NodeName: this.nodeName, NodeID: this.nodeId,
        Revision: "praetor", Server: this.config.server, Version: praetorVersion, BuildDate: "", SessionTTLMin: `${this.config.sessionTtlMinMs / 1000}s`,
      },
      DebugConfig: {
        Datacenter: this.datacenter, NodeName: this.nodeName, NodeID: this.nodeId, ServerMode: this.config.server,
        SessionTTLMin: `${this.config.sessionTtlMinMs / 1000}s`, DataDir: this.config.dataDir ?? "", Bootstrap: this.config.bootstrap,
        BootstrapExpect: this.config.bootstrapExpect, DNSDomain: this.config.domain, ClientAddrs: this.config.clientAddrs,
        SerfAdvertiseAddrLAN: serfAddr(member), SerfAdvertiseAddrWAN: serfAddr(wanMember),
      },
      Coord: this.coordinates().get(this.nodeName) ?? null,
      Member: member ?? null,
      Stats: { agent: { check_monitors: "0", services: String(this.local.services.size), checks: String(this.local.checks.size) }, raft: this.raftStats() },
      Meta: { ...this.config.nodeMeta },
    };
  }

  private raftStats(): Record<string, string> {
    if (this.raft === null) return {};
    const st = this.raft.node.status();
    return { state: st.role, term: String(st.term), commit_index: String(st.commit), applied_index: String(st.applied), last_log_index: String(st.lastIndex), num_peers: String(Math.max(0, st.conf.voters.length - 1)) };
  }

  members(options: { wan: boolean; segment?: string }): AgentMember[] {
    const pool = options.wan ? this.wan : this.lan;
    if (pool === null || pool === undefined) return [];
    return pool.members().map((m) => ({
      Name: m.name, Addr: ipOf(m), Port: m.port, Tags: { ...m.tags }, Status: serfStatusCode[m.status] ?? 0,
      ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
    })).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  async join(addr: string, options: { wan: boolean }): Promise<number> {
    try {
      return options.wan ? await this.joinWan([addr]) : await this.joinLan([addr]);
    } catch (error) {
      throw new ApiError(500, `Error joining address '${addr}': ${(error as Error).message}`);
    }
  }

  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.log.info("gracefully leaving the cluster");
    await this.store.put("meta/left", Date.now()).catch(() => {});
    // No registration of this node may land after the leader deregisters it.
    this.sync.stop();
    for (let waited = 0; this.sync.inFlight && waited < 5_000; waited += 50) await sleep(50);
    await Promise.all([this.lan?.leave(), this.wan?.leave()].filter(Boolean));
    setTimeout(() => {
      void this.shutdown().then(() => this.hooks.onShutdown?.());
    }, 50).unref();
  }

  async forceLeave(node: string, options: { prune: boolean; wan: boolean }): Promise<void> {
    const pool = options.wan ? this.wan : this.lan;
    const core = pool?.core as unknown as { forceLeave?: (name: string) => boolean } | undefined;
    if (core?.forceLeave === undefined || !core.forceLeave(node)) throw new ApiError(500, `agent: No node found with name '${node}'`);
    (pool as unknown as { flush?: () => void }).flush?.();
  }

  async reload(): Promise<void> {
    if (this.hooks.reloadConfig === undefined) throw new ApiError(500, "reload is not available in this agent");
    const next = await this.hooks.reloadConfig();
    await this.applyConfigServices(next);
  }

  localServices(): Record<string, AgentService> {
    return this.local.agentServices();
  }

  localChecks(): Record<string, AgentCheck> {
    return this.local.agentChecks();
  }

  // Service and check registration is wired to the check runner in agent-services.ts.
  registerService = (body: unknown, options: { replaceExistingChecks: boolean; token?: string }): Promise<void> => this.services.registerService(body, options, "api");
  deregisterService = (id: string): Promise<void> => this.services.deregisterService(id);
  registerCheck = (body: unknown): Promise<void> => this.services.registerCheck(body, "api");
  deregisterCheck = (id: string): Promise<void> => this.services.deregisterCheck(id);
  updateTtlCheck = (id: string, status: "passing" | "warning" | "critical", output: string): Promise<void> => this.services.updateTtl(id, status, output);
  nodeMaintenance = (enable: boolean, reason: string): Promise<void> => this.services.nodeMaintenance(enable, reason);
  serviceMaintenance = (id: string, enable: boolean, reason: string): Promise<void> => this.services.serviceMaintenance(id, enable, reason);

  private servicesImpl: import("./agent-services.ts").AgentServices | null = null;
  private get services(): import("./agent-services.ts").AgentServices {
    if (this.servicesImpl === null) throw new ApiError(500, "agent services not ready");
    return this.servicesImpl;
  }

  private async restoreLocalState(): Promise<void> {
    const { AgentServices } = await import("./agent-services.ts");
    this.servicesImpl = new AgentServices(this, this.local, this.config, this.log.named("checks"));
    await this.applyConfigServices(this.config);
    const persisted = await this.local.persisted();
    for (const def of persisted.services) await this.servicesImpl.registerService(def, { replaceExistingChecks: false }, "api").catch((e) => this.log.warn(`persisted service skipped: ${(e as Error).message}`));
    for (const def of persisted.checks) await this.servicesImpl.registerCheck(def, "api").catch((e) => this.log.warn(`persisted check skipped: ${(e as Error).message}`));
  }

  private async applyConfigServices(config: AgentConfig): Promise<void> {
    await this.local.dropConfigOrigin();
    for (const def of config.services) {
      await this.services.registerService(def, { replaceExistingChecks: true }, "config").catch((e) => this.log.error(`service from ${def.source}: ${(e as Error).message}`));
    }
    for (const check of config.checks) {
      await this.services.registerCheck(check.definition, "config").catch((e) => this.log.error(`check from ${check.source}: ${(e as Error).message}`));
    }
  }

  // ---------------------------------------------------------------- Anti-entropy (src/core/agent/local-sync.ts)

  private buildSync(): LocalSync {
    const host: LocalSyncHost = {
      readNode: (done) => {
        Promise.all([
          this.query({ kind: "catalogNode", name: this.nodeName }, { consistency: "default" }),
          this.query({ kind: "healthNode", name: this.nodeName }, { consistency: "default" }),
        ]).then(([node, checks]) => done({ node: node.value, checks: checks.value }), (error: Error) => {
          this.log.debug("anti-entropy: reading the catalog failed; will retry", { error: error.message });
          done(null);
        });
      },
      write: (write, done) => {
        this.write(write as WriteRequest).then(() => {
          this.logSynced(write);
          done(true);
        }, (error: Error) => {
          this.log.debug("anti-entropy: write failed; will retry", { op: write.op, error: error.message });
          done(false);
        });
      },
      nowMs: () => Date.now(),
    };
    return new LocalSync(host, () => this.localView(), {
      periodicTicks: Math.round(60_000 / tickMs), changeDelayTicks: 0, retryTicks: Math.round(1_000 / tickMs),
      checkUpdateIntervalMs: this.config.checkUpdateIntervalMs,
    });
  }

  /** Consul's anti-entropy lines, which operators (and `consul monitor` watchers) look for. */
  private logSynced(write: SyncWrite): void {
    if (write.op === "catalog.deregister") {
      if (write.ServiceID !== undefined) this.log.info("Deregistered service", { service: write.ServiceID });
      else if (write.CheckID !== undefined) this.log.info("Deregistered check", { check: write.CheckID });
      return;
    }
    if (write.SkipNodeUpdate !== true) this.log.info("Synced node info");
    if (write.Service !== undefined) this.log.info("Synced service", { service: write.Service.ID || write.Service.Service });
    for (const check of [...(write.Check === undefined ? [] : [write.Check]), ...(write.Checks ?? [])]) {
      this.log.info("Synced check", { check: check.CheckID ?? check.Name ?? "" });
    }
  }

  private localView(): LocalView {
    const wan = this.config.advertiseAddrWan ?? this.advertiseAddr;
    return {
      node: {
        name: this.nodeName, id: this.nodeId, address: this.advertiseAddr, datacenter: this.datacenter,
        taggedAddresses: { lan: this.advertiseAddr, lan_ipv4: this.advertiseAddr, wan, wan_ipv4: wan },
        meta: { "consul-network-segment": "", ...this.config.nodeMeta },
      },
      services: new Map<string, LocalService>([...this.local.services].map(([id, e]) => [id, e.service])),
      checks: new Map<string, LocalCheck>([...this.local.checks].map(([id, e]) => [id, e.check])),
    };
  }

  /** Anti-entropy figures: syncs done, writes made, and the writes of the last sync (0 in a steady state). */
  get syncCounters(): LocalSync["counters"] {
    return this.sync.counters;
  }

  // ---------------------------------------------------------------- Keyring

  async keyringOperation(op: "list" | "install" | "use" | "remove", key: string, options: { relayFactor: number }): Promise<KeyringPoolAnswer[]> {
    if (this.config.encrypt === undefined || this.config.encrypt === "") throw new ApiError(500, "Gossip encryption is not enabled on this agent");
    if (op !== "list" && key === "") throw new ApiError(400, "Missing key");
    const pools = [...(this.wan ? [{ wan: true, pool: this.wan }] : []), { wan: false, pool: this.lan }];
    const answers: KeyringPoolAnswer[] = [];
    const failures: string[] = [];
    for (const { wan, pool } of pools) {
      const { result, error } = await pool.keyringOperation(op, key, options.relayFactor).catch((e: Error) => { throw new ApiError(400, e.message); });
      if (error !== null && op !== "list") failures.push(`${wan ? "WAN" : "LAN"} pool: ${error}: ${JSON.stringify(result.messages)}`);
      answers.push({
        WAN: wan, Datacenter: this.datacenter, Segment: "", Messages: result.messages, Keys: result.keys, PrimaryKeys: result.primaryKeys, NumNodes: result.numNodes,
      });
    }
    if (failures.length > 0) throw new ApiError(500, failures.join("; "));
    return answers;
  }

  // ---------------------------------------------------------------- Events

  async fireEvent(name: string, payload: Uint8Array, filters: { node?: string; service?: string; tag?: string }): Promise<UserEvent> {
    if (name === "") throw new ApiError(400, "Missing name");
    const event: UserEvent = {
      ID: randomUUID(), Name: name, Payload: payload.length === 0 ? null : Buffer.from(payload).toString("base64"),
      NodeFilter: filters.node ?? "", ServiceFilter: filters.service ?? "", TagFilter: filters.tag ?? "", Version: 1, LTime: 0,
    };
    const encoded = new TextEncoder().encode(JSON.stringify(event));
    try {
      this.lan.userEvent(`consul:event:${name}`, encoded, false);
    } catch (error) {
      throw new ApiError(400, (error as Error).message);
    }
    this.onUserEvent(`consul:event:${name}`, encoded, 0);
    return event;
  }

  private onUserEvent(name: string, payload: Uint8Array, lTime: number): void {
    if (!name.startsWith("consul:event:")) return;
    let event: UserEvent;
    try {
      event = JSON.parse(new TextDecoder().decode(payload)) as UserEvent;
    } catch {
      return;
    }
    if (typeof event.ID !== "string" || this.eventBuffer.some((e) => e.ID === event.ID)) return;
    if (!this.shouldProcessUserEvent(event)) return;
    event.LTime = lTime || event.LTime;
    this.eventBuffer.push(event);
    if (this.eventBuffer.length > 256) this.eventBuffer.shift();
    for (const wake of this.eventWaiters) wake();
    this.eventWaiters.clear();
  }

  /**
   * Consul's shouldProcessUserEvent: the node filter must match this node's name, and the
   * service filter one of this agent's service IDs (with the tag filter, one of its tags).
   * Regular expressions match anywhere in the string, as Go's MatchString; a bad one drops the event.
   */
  private shouldProcessUserEvent(event: UserEvent): boolean {
    const compile = (kind: string, source: unknown): Re2 | null => {
      try {
        return compileRe2(String(source));
      } catch (error) {
        this.log.error(`Failed to parse ${kind} filter '${String(source)}' for event '${event.Name}': ${(error as Error).message}`);
        return null;
      }
    };
    if (typeof event.NodeFilter === "string" && event.NodeFilter !== "") {
      const node = compile("node", event.NodeFilter);
      if (node === null || !node.test(this.nodeName)) return false;
    }
    if (typeof event.ServiceFilter === "string" && event.ServiceFilter !== "") {
      const service = compile("service", event.ServiceFilter);
      const tag = typeof event.TagFilter === "string" && event.TagFilter !== "" ? compile("tag", event.TagFilter) : undefined;
      if (service === null || tag === null) return false;
      const found = [...this.local.services].some(([id, entry]) => service.test(id) && (tag === undefined || entry.service.Tags.some((t) => tag.test(t))));
      if (!found) return false;
    }
    return true;
  }

  private eventIndex(events: readonly UserEvent[]): number {
    const last = events[events.length - 1];
    if (last === undefined) return 1;
    // Consul's index for events: the low 64 bits of the last event's ID, read as a number.
    let x = 0;
    for (const ch of last.ID.replace(/-/g, "").slice(-12)) x = x * 16 + parseInt(ch, 16);
    return x || 1;
  }

  async events(options: { name?: string; node?: string; service?: string; tag?: string; index?: number; waitMs?: number }): Promise<{ index: number; events: UserEvent[] }> {
    const pattern = (source: string | undefined, what: string): Re2 | null => {
      if (source === undefined || source === "") return null;
      try {
        return compileRe2(source);
      } catch (error) {
        throw new ApiError(400, `Invalid ${what} filter: ${(error as Error).message}`);
      }
    };
    const node = pattern(options.node, "node");
    const service = pattern(options.service, "service");
    const tag = pattern(options.tag, "tag");
    const pick = () => this.eventBuffer.filter((e) => (options.name === undefined || options.name === "" || e.Name === options.name)
      && (node === null || node.test(e.NodeFilter)) && (service === null || service.test(e.ServiceFilter)) && (tag === null || tag.test(e.TagFilter)));
    let events = pick();
    if (options.index === undefined || options.index === 0 || this.eventIndex(events) !== options.index) return { index: this.eventIndex(events), events };
    const deadline = Date.now() + Math.min(options.waitMs ?? this.config.defaultQueryTimeMs, this.config.maxQueryTimeMs);
    while (Date.now() < deadline && !this.stopped) {
      await new Promise<void>((resolve) => {
        this.eventWaiters.add(resolve);
        setTimeout(resolve, deadline - Date.now()).unref();
      });
      events = pick();
      if (this.eventIndex(events) !== options.index) break;
    }
    return { index: this.eventIndex(events), events };
  }

  /** The catalog's nodes that have a coordinate in this agent's LAN pool (Consul lists only those). */
  async coordinateNodes(options: ReadOptions): Promise<ReadResult<unknown[]>> {
    const nodes = await this.query({ kind: "catalogNodes" }, options);
    const coordinates = this.coordinates();
    return {
      meta: nodes.meta,
      value: nodes.value.filter((n) => coordinates.has(n.Node)).map((n) => ({ Node: n.Node, Segment: "", Coord: coordinates.get(n.Node)! })),
    };
  }

  async coordinateDatacenters(): Promise<unknown[]> {
    return [{ Datacenter: this.datacenter, AreaID: "wan", Coordinates: [] }];
  }

  async metrics(format: "json" | "prometheus"): Promise<string | Record<string, unknown>> {
    const gauges: [string, number][] = [
      ["consul.raft.applied_index", this.raft?.appliedIndex ?? 0],
      ["praetor.raft.writes", this.counters.raftWrites],
      ["praetor.anti_entropy.syncs", this.sync.counters.syncs],
      ["praetor.anti_entropy.writes", this.sync.counters.writes],
      ["praetor.anti_entropy.last_sync_writes", this.sync.counters.lastSyncWrites],
      ["praetor.leader.reconcile_writes", this.duties?.counters.reconcileWrites ?? 0],
      ["praetor.rpc.forwarded", this.counters.forwarded],
      ["praetor.catalog.waiters", this.catalog?.waiterCount ?? 0],
      ["praetor.blocking.evaluations", this.shared?.counters.evaluations ?? 0],
      // On a client agent: its watchers waiting in forwarded groups, and the calls those groups made.
      ["praetor.blocking.waiters", (this.shared?.waiterCount ?? 0) + (this.forwarded?.waiterCount ?? 0)],
      ["praetor.blocking.forwarded_groups", this.forwarded?.groupCount ?? 0],
      ["praetor.blocking.forwarded_calls", this.forwarded?.counters.groupCalls ?? 0],
      ["consul.runtime.alloc_bytes", process.memoryUsage().heapUsed],
    ];
    if (format === "prometheus") {
      return gauges.map(([name, v]) => {
        const n = name.replace(/\./g, "_");
        return `# TYPE ${n} gauge\n${n} ${v}`;
      }).join("\n") + "\n";
    }
    return {
      Timestamp: new Date().toISOString(),
      Gauges: gauges.map(([Name, Value]) => ({ Name, Value, Labels: {} })),
      Points: [], Counters: [], Samples: [],
    };
  }

  monitor(level: string, onLine: (line: string) => void, json = false): () => void {
    if (this.hooks.subscribeLogs === undefined) return () => {};
    return this.hooks.subscribeLogs(level.toLowerCase() || "info", onLine, json);
  }

  async host(): Promise<Record<string, unknown>> {
    return {
      Memory: { total: os.totalmem(), available: os.freemem() },
      CPU: os.cpus().map((c) => ({ modelName: c.model, mhz: c.speed })),
      Host: { hostname: os.hostname(), uptime: os.uptime(), os: os.platform(), platform: os.platform(), kernelVersion: os.release() },
      Disk: {}, CollectionTime: Date.now() * 1e6, Errors: null,
    };
  }

  // ---------------------------------------------------------------- Shutdown

  /** Stops everything without leaving (a crash looks the same to peers). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.servicesImpl?.stop();
    this.raft?.stop();
    await this.raftTransport?.close();
    await this.rpcServer?.close();
    this.forwarded?.clear();
    this.rpc.close();
    await this.lan?.kill();
    await this.wan?.kill();
    await this.store.close().catch(() => {});
    for (const wake of this.eventWaiters) wake();
  }

  /** For tests: the Raft status of a server. */
  raftStatus() {
    return this.raft?.node.status() ?? null;
  }

}

class NotLeader extends Error {
  constructor(readonly leader: string | null) {
    super(`not the leader (leader: ${leader ?? "unknown"})`);
  }
}

function hasRaftState(p: PersistedState): boolean {
  return p.snapshot !== null || p.entries.length > 0 || p.hardState.term > 0;
}

function readOrCreateNodeId(dataDir: string): string {
  const file = path.join(dataDir, "node-id");
  if (fs.existsSync(file)) {
    const id = fs.readFileSync(file, "utf8").trim();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw new Error(`${file} holds ${JSON.stringify(id.slice(0, 60))}, not a UUID: fix it or remove the file to make a new node ID`);
    }
    return id.toLowerCase();
  }
  const id = randomUUID();
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * How long a forwarded read may take: its wait, the server's jitter on it (up to wait/16: without
 * it a 5-minute wait timed out here before the server answered, about one time in three), and
 * the hold timeout for finding a leader, plus a margin for the network.
 */
function forwardTimeoutMs(waitMs: number | undefined, rpcHoldTimeoutMs: number): number {
  const wait = waitMs ?? 0;
  return wait + Math.ceil(wait / 16) + rpcHoldTimeoutMs + 5000;
}

function sanitizeReadOptions(options: ReadOptions | undefined): Partial<ReadOptions> {
  if (options === undefined) return {};
  const out: { -readonly [K in keyof ReadOptions]?: ReadOptions[K] } = {};
  if (typeof options.index === "number" && options.index >= 0) out.index = options.index;
  if (typeof options.waitMs === "number" && options.waitMs >= 0) out.waitMs = options.waitMs;
  if (typeof options.maxStaleMs === "number") out.maxStaleMs = options.maxStaleMs;
  if (typeof options.filter === "string") out.filter = options.filter;
  return out;
}

let filterModule: Promise<{ compileFilter: (expr: string) => (v: unknown) => boolean }> | null = null;

async function compileFilterLazy(expr: string): Promise<(v: unknown) => boolean> {
  filterModule ??= import("../core/filter/index.ts").catch(() => ({ compileFilter: () => () => true })) as Promise<{ compileFilter: (expr: string) => (v: unknown) => boolean }>;
  const { compileFilter } = await filterModule;
  try {
    return compileFilter(expr);
  } catch (error) {
    throw new ApiError(400, `Failed to create boolean expression evaluator: ${(error as Error).message}`);
  }
}
