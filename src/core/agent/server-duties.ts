/**
 * What a server does beyond Raft and the catalog, as one pure state machine that the agent
 * runtime and the simulator's whole-agent scenario both drive (Consul's leader.go): while
 * leading, reconcile the LAN pool into the catalog (reconcile.ts), expire TTL sessions, and keep
 * Raft's membership in line with the live servers (autopilot.ts). Time is ticks, the wall clock
 * for session TTLs is `host.nowMs()`, and every write leaves as a proposal through the host.
 *
 * Invariants: at most one proposal in flight per node for reconciliation and per session for
 * expiry; at most one membership change in flight; nothing is proposed while not leading.
 */
import { assert } from "../util/assert.ts";
import type { Catalog } from "../catalog/catalog.ts";
import type { ConfChange, ConfState } from "../raft/types.ts";
import { Autopilot, type AutopilotServer } from "./autopilot.ts";
import type { SyncWrite } from "./anti-entropy.ts";
import { consulServiceId, reconcileAll, reconcileMember, serfCheckId, type CatalogNodeView, type PoolMember } from "./reconcile.ts";

export interface DutiesRaftStatus {
  readonly role: string;
  readonly term: number;
  readonly conf: ConfState;
  readonly lastIndex: number;
  readonly progress?: Readonly<Record<string, { readonly match: number }>>;
}

/** A LAN member with the tags the duties read (`role`, `port`, `dc`, `id`). */
export interface DutiesMember extends PoolMember {
  readonly tags: Readonly<Record<string, string>>;
}

export interface DutiesHost {
  /** This server's Raft ID (its RPC address). */
  readonly raftId: string;
  readonly datacenter: string;
  raftStatus(): DutiesRaftStatus;
  /** Propose a catalog write (the host stamps the leader's time); `done(true)` once applied. */
  propose(write: SyncWrite | { op: "session.expire"; ID: string }, done: (applied: boolean) => void): void;
  proposeConfChange(change: ConfChange, done: (applied: boolean) => void): void;
  lanMembers(): readonly DutiesMember[];
  /** The leader's wall clock, for session TTLs. */
  nowMs(): number;
}

export interface ServerDutiesConfig {
  /** Full reconciliation of the pool every this many ticks (Consul: 60 s; event-driven in between). */
  readonly reconcileEveryTicks: number;
  readonly sessionCheckEveryTicks: number;
  readonly autopilotEveryTicks: number;
  /** A non-voter is promoted after being caught up this long. */
  readonly stableTicks: number;
  /**
   * A new leader deregisters catalog nodes its pool does not know only after leading this long:
   * a leader that just restarted has not yet heard of every live member again.
   */
  readonly reapGraceTicks: number;
  readonly maxTrailingEntries: number;
}

export function defaultServerDutiesConfig(tickMs: number): ServerDutiesConfig {
  const ticks = (ms: number) => Math.max(1, Math.round(ms / tickMs));
  return {
    reconcileEveryTicks: ticks(1_000), // cheap: it writes only what differs
    sessionCheckEveryTicks: ticks(200),
    autopilotEveryTicks: ticks(500),
    stableTicks: ticks(2_000),
    reapGraceTicks: ticks(30_000),
    maxTrailingEntries: 250, // Consul's autopilot max_trailing_logs
  };
}

/** Raft address of a server member: its IP and its `port` tag (Consul's default 8300). */
export function serverRaftId(member: { readonly addr: string; readonly tags: Readonly<Record<string, string>> }): string {
  return `${member.addr}:${Number(member.tags.port ?? "8300") || 8300}`;
}

export class ServerDuties {
  private ticks = 0;
  private leading = false;
  private leadingSinceTick = 0;
  private readonly autopilot: Autopilot;
  private confChangeInFlight = false;
  private readonly reconcileInFlight = new Set<string>();
  private readonly expiryInFlight = new Set<string>();
  private readonly reapedServers = new Set<string>();
  readonly counters = { reconcileWrites: 0, sessionExpiries: 0, confChanges: 0 };

  constructor(private readonly host: DutiesHost, private readonly catalog: Catalog, private readonly config: ServerDutiesConfig) {
    assert(config.reconcileEveryTicks >= 1, `reconcileEveryTicks ${config.reconcileEveryTicks} < 1`);
    assert(config.sessionCheckEveryTicks >= 1, `sessionCheckEveryTicks ${config.sessionCheckEveryTicks} < 1`);
    this.autopilot = new Autopilot({ stableTicks: config.stableTicks, maxTrailingEntries: config.maxTrailingEntries });
  }

  get isLeading(): boolean {
    return this.leading;
  }

  tick(): void {
    this.ticks++;
    this.autopilot.tick();
    const leading = this.host.raftStatus().role === "leader";
    if (leading !== this.leading) this.onLeadershipChange(leading);
    if (!leading) return;
    if (this.ticks % this.config.reconcileEveryTicks === 0) this.reconcileAll();
    if (this.ticks % this.config.sessionCheckEveryTicks === 0) this.expireSessions();
    if (this.ticks % this.config.autopilotEveryTicks === 0) this.autopilotStep();
  }

  /** A LAN membership change: reconcile that member at once (leader only). */
  onMemberEvent(member: DutiesMember, reaped = false): void {
    if (member.tags.role === "consul") {
      const id = serverRaftId(member);
      if (reaped) this.reapedServers.add(id);
      else this.reapedServers.delete(id);
    }
    if (!this.leading) return;
    const status = reaped ? "left" : member.status;
    for (const write of reconcileMember({ ...member, status }, this.nodeView(member.name), this.host.datacenter)) this.reconcileWrite(write);
  }

  private onLeadershipChange(leading: boolean): void {
    this.leading = leading;
    this.leadingSinceTick = this.ticks;
    this.confChangeInFlight = false;
    if (!leading) return;
    // Consul's initializeSessionTimers: every TTL session gets a fresh deadline under a new leader.
    this.catalog.resetSessionTimers(this.host.nowMs());
    this.reconcileAll();
  }

  private nodeView(name: string): CatalogNodeView | null {
    const node = this.catalog.catalogNode(name).value;
    if (node === null) return null;
    const serf = this.catalog.healthNode(name).value.find((c) => c.CheckID === serfCheckId && c.ServiceID === "");
    const consul = node.Services[consulServiceId];
    return {
      node: node.Node, serfHealth: serf === undefined ? null : { Status: serf.Status, Output: serf.Output },
      consulService: consul === undefined ? null : { Port: consul.Port, Meta: consul.Meta },
    };
  }

  reconcileAll(): void {
    if (!this.leading) return;
    const views = new Map<string, CatalogNodeView>();
    for (const node of this.catalog.catalogNodes().value) {
      const view = this.nodeView(node.Node);
      if (view !== null) views.set(node.Node, view);
    }
    const members = this.host.lanMembers();
    if (this.ticks - this.leadingSinceTick < this.config.reapGraceTicks) {
      // Too early to tell a reaped member from one this leader has not heard of again yet.
      const known = new Set(members.map((m) => m.name));
      for (const name of [...views.keys()]) if (!known.has(name)) views.delete(name);
    }
    for (const write of reconcileAll(members, views, this.host.datacenter)) this.reconcileWrite(write);
  }

  private reconcileWrite(write: SyncWrite): void {
    if (this.reconcileInFlight.has(write.Node)) return;
    this.reconcileInFlight.add(write.Node);
    this.counters.reconcileWrites++;
    this.host.propose(write, () => this.reconcileInFlight.delete(write.Node));
  }

  private expireSessions(): void {
    for (const id of this.catalog.expiredSessions(this.host.nowMs())) {
      if (this.expiryInFlight.has(id)) continue;
      this.expiryInFlight.add(id);
      this.counters.sessionExpiries++;
      this.host.propose({ op: "session.expire", ID: id }, () => this.expiryInFlight.delete(id));
    }
  }

  private servers(): AutopilotServer[] {
    const out: AutopilotServer[] = [];
    for (const m of this.host.lanMembers()) {
      if (m.tags.role !== "consul" || (m.tags.dc ?? "") !== this.host.datacenter) continue;
      out.push({ raftAddr: serverRaftId(m), status: m.status });
    }
    for (const id of this.reapedServers) if (!out.some((s) => s.raftAddr === id)) out.push({ raftAddr: id, status: "left" });
    return out;
  }

  private autopilotStep(): void {
    if (this.confChangeInFlight) return;
    const st = this.host.raftStatus();
    const match: Record<string, number> = {};
    for (const [id, p] of Object.entries(st.progress ?? {})) match[id] = p.match;
    const change = this.autopilot.next(this.host.raftId, st.conf, this.servers(), match, st.lastIndex);
    if (change === null) return;
    this.confChangeInFlight = true;
    this.counters.confChanges++;
    this.host.proposeConfChange(change, () => { this.confChangeInFlight = false; });
  }

  invariants(): void {
    if (!this.leading) assert(!this.confChangeInFlight || this.host.raftStatus().role !== "leader", "conf change in flight while not leading");
  }
}
