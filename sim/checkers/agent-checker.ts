/**
 * Checkers of the whole-agent scenario (sim/scenarios/agent.ts), on the leader's catalog after the
 * healed settle phase:
 *   (1) the catalog converges to the gossip view: every live agent is a node with `serfHealth`
 *       passing, a killed one keeps its node with `serfHealth` critical, one that left is gone;
 *   (2) anti-entropy converged: each live agent's local services are exactly its catalog services;
 *   (4) every write an agent saw acknowledged is readable at the end, with its value (AckedWrites);
 * and, throughout the run, no RPC outlives its deadline (RequestLog).
 *
 * Each returns null when the property holds, else a message naming the node and both sides.
 */
import type { Catalog } from "../../src/core/catalog/catalog.ts";
import type { LocalService } from "../../src/core/agent/anti-entropy.ts";
import { consulServiceId, serfCheckId } from "../../src/core/agent/reconcile.ts";

/**
 * What happened to an agent. "forgotten": killed, and the leader's gossip pool no longer knows it
 * (the leader restarted after the kill: a fresh memberlist does not learn dead members), so the
 * leader treats it as reaped and its node must be gone, as Consul's reconcileReaped does.
 */
export type AgentFate = "alive" | "failed" | "left" | "forgotten";

/**
 * The fate a leader's pool can know for an agent that left. A leave that no running gossip
 * member remembers (each one that heard it has restarted since, and the rest missed it) leaves
 * nothing that could tell a pool holding the agent failed that it left, in Serf as here: then
 * failed is the truth. While anyone remembers the leave, left is, and push/pull must spread it.
 */
export function leaverFate(leaderStatus: string | null, leaveRemembered: boolean): "left" | "failed" {
  return leaderStatus === "failed" && !leaveRemembered ? "failed" : "left";
}

export interface AgentTruth {
  readonly name: string;
  readonly fate: AgentFate;
  readonly services: ReadonlyMap<string, LocalService>;
}

/** Checker (1): the catalog mirrors the gossip pool's truth. */
export function checkCatalogMatchesGossip(catalog: Catalog, agents: readonly AgentTruth[]): string | null {
  const problems: string[] = [];
  for (const agent of agents) {
    const node = catalog.catalogNode(agent.name).value;
    const serf = catalog.healthNode(agent.name).value.find((c) => c.CheckID === serfCheckId && c.ServiceID === "");
    const seen = node === null ? "no node" : `serfHealth ${serf?.Status ?? "absent"}`;
    if (agent.fate === "alive" && (node === null || serf?.Status !== "passing")) problems.push(`${agent.name} is alive but the catalog has ${seen} (want serfHealth passing)`);
    if (agent.fate === "failed" && (node === null || serf?.Status !== "critical")) problems.push(`${agent.name} was killed but the catalog has ${seen} (want serfHealth critical)`);
    if (agent.fate === "left" && node !== null) problems.push(`${agent.name} left but the catalog still has its node (${seen})`);
    if (agent.fate === "forgotten" && node !== null) problems.push(`${agent.name} was killed and the leader's pool forgot it, but the catalog still has its node (${seen})`);
  }
  const known = new Set(agents.map((a) => a.name));
  for (const node of catalog.catalogNodes().value) {
    if (!known.has(node.Node)) problems.push(`the catalog has node ${node.Node}, which is no agent`);
  }
  return problems.length === 0 ? null : `catalog vs gossip: ${problems.join("; ")}`;
}

function describeService(s: { Service: string; Port: number; Tags: readonly string[] }): string {
  return `${s.Service}:${s.Port}[${s.Tags.join(",")}]`;
}

/** Checker (2): each live agent's local services are exactly its catalog services. */
export function checkAntiEntropy(catalog: Catalog, agents: readonly AgentTruth[]): string | null {
  const problems: string[] = [];
  for (const agent of agents) {
    if (agent.fate !== "alive") continue;
    const remote = catalog.catalogNode(agent.name).value?.Services ?? {};
    const local = agent.services;
    // A server's `consul` service is the leader's (reconcile.ts), not the agent's own.
    const ids = new Set([...Object.keys(remote).filter((id) => id !== consulServiceId || local.has(id)), ...local.keys()]);
    for (const id of [...ids].sort()) {
      const l = local.get(id);
      const r = remote[id];
      if (l === undefined) problems.push(`${agent.name}: catalog has service ${id} (${describeService(r!)}) the agent does not own`);
      else if (r === undefined) problems.push(`${agent.name}: local service ${id} (${describeService(l)}) missing from the catalog`);
      else if (describeService(l) !== describeService(r)) problems.push(`${agent.name}: service ${id} is ${describeService(l)} locally but ${describeService(r)} in the catalog`);
    }
  }
  return problems.length === 0 ? null : `anti-entropy: ${problems.join("; ")}`;
}

interface RequestRecord {
  readonly id: number;
  readonly from: string;
  readonly what: string;
  readonly startMs: number;
  readonly deadlineMs: number;
  endMs: number | null;
  outcome: "ok" | "failed" | "timeout" | "abandoned" | null;
}

/** Every RPC a simulated agent makes: each must end (answer, failure or timeout) by its deadline. */
export class RequestLog {
  private readonly requests = new Map<number, RequestRecord>();
  private nextId = 1;
  readonly counts = { ok: 0, failed: 0, timeout: 0, abandoned: 0 };

  begin(from: string, what: string, nowMs: number, timeoutMs: number): number {
    const id = this.nextId++;
    this.requests.set(id, { id, from, what, startMs: nowMs, deadlineMs: nowMs + timeoutMs, endMs: null, outcome: null });
    return id;
  }

  /** The request ended; throws if it ended twice or after its deadline. */
  end(id: number, nowMs: number, outcome: "ok" | "failed" | "timeout" | "abandoned"): void {
    const r = this.requests.get(id);
    if (r === undefined) throw new Error(`request ${id} ended twice or was never begun`);
    if (nowMs > r.deadlineMs) throw new Error(`request ${id} (${r.what} from ${r.from}) ended ${outcome} at ${nowMs} ms, after its deadline ${r.deadlineMs} ms`);
    this.counts[outcome]++;
    this.requests.delete(id);
  }

  /** A request still open past its deadline: the hang the issue forbids. */
  overdue(nowMs: number): string | null {
    for (const r of this.requests.values()) {
      if (r.deadlineMs < nowMs) return `request ${r.id} (${r.what} from ${r.from}) began at ${r.startMs} ms, deadline ${r.deadlineMs} ms, still open at ${nowMs} ms`;
    }
    return null;
  }

  get open(): number {
    return this.requests.size;
  }
}

/**
 * Checker (4): KV writes acknowledged to the agent that asked. Each write has a key of its own, so
 * the last acknowledged value of a key is the one it must hold: an acknowledged write lost to a
 * crash, a leader change or a truncated log fails the run.
 */
export class AckedWrites {
  private readonly acked = new Map<string, string>();
  /** Writes that ended without an acknowledgement (failed or timed out): they may or may not have landed. */
  unacknowledged = 0;

  ack(key: string, value: string): void {
    this.acked.set(key, value);
  }

  get count(): number {
    return this.acked.size;
  }

  /** Null when every acknowledged write reads back from `catalog`, else the first few that do not. */
  check(catalog: Catalog): string | null {
    const lost: string[] = [];
    for (const [key, value] of this.acked) {
      const entry = catalog.kvGet(key).value;
      const found = entry === null ? null : new TextDecoder().decode(entry.Value ?? new Uint8Array(0));
      if (found !== value) lost.push(`${key}=${value} reads ${found === null ? "missing" : found}`);
    }
    if (lost.length === 0) return null;
    return `acknowledged writes: ${lost.length} of ${this.acked.size} lost: ${lost.slice(0, 5).join("; ")}${lost.length > 5 ? "; ..." : ""}`;
  }
}
