/**
 * An `AgentBackend` for the HTTP tests: one in-process server that is its own leader, built on
 * the real catalog core (writes are `catalog.apply` at the next index, blocking reads wait on
 * `catalog.watch`). Agent-local state (services, checks, events, log lines) is kept here in the
 * plainest way that answers as Consul's agent does. The HTTP tests only talk HTTP, so the lead
 * can run them against a real agent by swapping this file's factory.
 */
import { randomUUID } from "node:crypto";
import { Registry, Gauge } from "prom-client";
import {
  ApiError, type AgentBackend, type AgentCheck, type AgentMember, type KeyringPoolAnswer, type AgentService, type CatalogQuery, type QueryValues,
  type ReadOptions, type ReadResult, type UserEvent, type WriteOptions, type WriteRequest,
} from "../../src/agent/api.ts";
import { queryScopes, runQuery } from "../../src/core/agent/query.ts";
import { Catalog, type Command } from "../../src/core/catalog/index.ts";
import { applyFilter } from "../../src/core/filter/index.ts";

const eventBufferMax = 256;

export class FakeBackend implements AgentBackend {
  readonly datacenter = "dc1";
  readonly nodeName = "node-a";
  readonly catalog = new Catalog();
  private index = 0;
  private readonly services = new Map<string, AgentService>();
  private readonly checks = new Map<string, AgentCheck>();
  private readonly eventLog: UserEvent[] = [];
  private eventWaiters: (() => void)[] = [];
  private readonly monitors = new Set<{ level: number; onLine: (line: string) => void }>();
  /** Every call the HTTP layer made, for tests that check what reached the agent. */
  readonly calls: { method: string; args: unknown[] }[] = [];
  nodeMaintenanceReason: string | null = null;
  left = false;
  reloads = 0;
  leader = "127.0.0.1:8300";
  healthy = true;

  constructor() {
    this.applyOrThrow({
      op: "catalog.register", Node: this.nodeName, Address: "127.0.0.1", ID: "11111111-2222-3333-4444-555555555555",
      Check: { CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing", Output: "Agent alive and reachable" },
    } as WriteRequest);
  }

  /** Benches turn this off so the call log does not grow for millions of requests. */
  recordCalls = true;

  private record(method: string, ...args: unknown[]): void {
    if (this.recordCalls) this.calls.push({ method, args });
  }

  private applyOrThrow(request: WriteRequest): unknown {
    const command = { v: 1, nowMs: Date.now(), ...request } as Command;
    const result = this.catalog.apply(command, ++this.index);
    if (!result.ok) throw new ApiError(result.error.status, result.error.message, result.error.errors);
    return result.value;
  }

  private checkDc(dc: string | undefined): void {
    if (dc !== undefined && dc !== this.datacenter) throw new ApiError(500, "No path to datacenter");
  }

  // --- The catalog ---

  async query<K extends CatalogQuery["kind"]>(query: Extract<CatalogQuery, { kind: K }>, options: ReadOptions): Promise<ReadResult<QueryValues[K]>> {
    this.record("query", query, options);
    this.checkDc(options.dc);
    const run = () => {
      const result = runQuery(this.catalog, query);
      const value = Array.isArray(result.value) && options.filter !== undefined ? applyFilter(options.filter, result.value) : result.value;
      return { index: result.index, value: value as QueryValues[K] };
    };
    let result = run();
    const fromIndex = options.index ?? 0;
    if (fromIndex > 0 && result.index <= fromIndex && query.kind !== "readTxn") {
      await new Promise<void>((resolve) => {
        let cancel: () => void = () => {};
        const done = (): void => {
          clearTimeout(timer);
          cancel();
          options.signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, options.waitMs ?? 300_000);
        options.signal?.addEventListener("abort", done);
        cancel = this.catalog.watch(queryScopes(query), fromIndex, done);
        if (options.signal?.aborted === true) done();
      });
      result = run();
    }
    return { meta: { index: result.index, knownLeader: true, lastContactMs: 0, consistency: options.consistency }, value: result.value };
  }

  async write(request: WriteRequest, options: WriteOptions): Promise<unknown> {
    this.record("write", request, options);
    this.checkDc(options.dc);
    if (request.op === "session.create") return this.applyOrThrow({ ...request, ID: request.ID === "" ? randomUUID() : request.ID });
    if (request.op === "query" && request.Verb === "create" && !request.Query.ID) return this.applyOrThrow({ ...request, Query: { ...request.Query, ID: randomUUID() } });
    return this.applyOrThrow(request);
  }

  async datacenters(): Promise<string[]> {
    return [this.datacenter];
  }

  // --- Status and operator ---

  async statusLeader(options: WriteOptions): Promise<string> {
    this.checkDc(options.dc);
    return this.leader;
  }

  async statusPeers(options: WriteOptions): Promise<string[]> {
    this.checkDc(options.dc);
    return this.leader === "" ? [] : [this.leader];
  }

  async raftConfiguration(_options: ReadOptions): Promise<{ Servers: { ID: string; Node: string; Address: string; Leader: boolean; ProtocolVersion: string; Voter: boolean }[]; Index: number }> {
    return { Servers: [{ ID: "11111111-2222-3333-4444-555555555555", Node: this.nodeName, Address: "127.0.0.1:8300", Leader: true, ProtocolVersion: "3", Voter: true }], Index: 1 };
  }

  async removeRaftPeer(by: { id?: string; address?: string }): Promise<void> {
    this.record("removeRaftPeer", by);
    if (by.id !== undefined && by.id !== "11111111-2222-3333-4444-555555555555") throw new ApiError(500, `id "${by.id}" was not found in the Raft configuration`);
    if (by.address !== undefined && by.address !== "127.0.0.1:8300") throw new ApiError(500, `address "${by.address}" was not found in the Raft configuration`);
  }

  async transferLeader(id?: string): Promise<void> {
    this.record("transferLeader", id);
    throw new ApiError(500, "cannot find peer to transfer leadership to");
  }

  async autopilotHealth(): Promise<unknown> {
    return { Healthy: this.healthy, FailureTolerance: 0, Servers: [{ ID: "11111111-2222-3333-4444-555555555555", Name: this.nodeName, Healthy: this.healthy, Leader: true, Voter: true }] };
  }

  async snapshotSave(options: ReadOptions): Promise<{ meta: { index: number; knownLeader: boolean; lastContactMs: number; consistency: ReadOptions["consistency"] }; data: Uint8Array }> {
    return { meta: { index: this.catalog.appliedIndex, knownLeader: true, lastContactMs: 0, consistency: options.consistency }, data: this.catalog.snapshot() };
  }

  async snapshotRestore(data: Uint8Array): Promise<void> {
    // As the agent does: one log entry, validated by the catalog (a malformed archive is a 400).
    await this.applyOrThrow({ op: "snapshot.restore", Data: data });
  }

  /** One LAN pool holding `keys` (the first is primary), as Serf's keyring queries would tally it. */
  private readonly keys = ["pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="];

  async keyringOperation(op: "list" | "install" | "use" | "remove", key: string): Promise<KeyringPoolAnswer[]> {
    if (op !== "list" && !/^[A-Za-z0-9+/]{43}=$/.test(key)) throw new ApiError(500, `Error decoding key: illegal base64 data in ${JSON.stringify(key)}`);
    if (op === "install" && !this.keys.includes(key)) this.keys.push(key);
    if (op === "use") {
      if (!this.keys.includes(key)) throw new ApiError(500, "1 error occurred:\n\t* node: Requested key is not in the keyring");
      this.keys.splice(this.keys.indexOf(key), 1);
      this.keys.unshift(key);
    }
    if (op === "remove") {
      if (this.keys[0] === key) throw new ApiError(500, "1 error occurred:\n\t* node: Removing the primary key is not allowed");
      if (this.keys.includes(key)) this.keys.splice(this.keys.indexOf(key), 1);
    }
    return [{
      WAN: false, Datacenter: this.datacenter, Segment: "", Messages: {}, NumNodes: 1,
      Keys: Object.fromEntries(this.keys.map((k) => [k, 1])), PrimaryKeys: { [this.keys[0]!]: 1 },
    }];
  }

  // --- This agent ---

  async self(): Promise<Record<string, unknown>> {
    return {
      Config: { Datacenter: this.datacenter, NodeName: this.nodeName, NodeID: "11111111-2222-3333-4444-555555555555", Server: true, Version: "1.21.0", SessionTTLMin: "10s" },
      DebugConfig: { SessionTTLMin: "10s" },
      Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
      Member: this.members({ wan: false })[0],
      Meta: {},
    };
  }

  members(options: { wan: boolean; segment?: string }): AgentMember[] {
    return [{
      Name: options.wan ? `${this.nodeName}.${this.datacenter}` : this.nodeName, Addr: "127.0.0.1", Port: options.wan ? 8302 : 8301,
      Tags: { role: "consul", dc: this.datacenter }, Status: 1,
      ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
    }];
  }

  async join(addr: string, options: { wan: boolean }): Promise<number> {
    this.record("join", addr, options);
    if (!/^[\w.-]+(:\d+)?$/.test(addr)) throw new ApiError(500, `1 error occurred:\n\t* Failed to resolve ${addr}: lookup failed`);
    return 1;
  }

  async leave(): Promise<void> {
    this.left = true;
  }

  async forceLeave(node: string, options: { prune: boolean; wan: boolean }): Promise<void> {
    this.record("forceLeave", node, options);
  }

  async reload(): Promise<void> {
    this.reloads++;
  }

  localServices(): Record<string, AgentService> {
    return Object.fromEntries(this.services);
  }

  localChecks(): Record<string, AgentCheck> {
    return Object.fromEntries(this.checks);
  }

  async registerService(body: unknown, options: { replaceExistingChecks: boolean; token?: string }): Promise<void> {
    this.record("registerService", body, options);
    const def = body as Record<string, unknown>;
    const name = pick(def, "Name");
    if (typeof name !== "string" || name === "") throw new ApiError(400, "Missing service name");
    const id = (pick(def, "ID") as string | undefined) ?? name;
    const service: AgentService = {
      ID: id, Service: name, Tags: (pick(def, "Tags") as string[] | undefined) ?? [], Meta: (pick(def, "Meta") as Record<string, string> | undefined) ?? {},
      Port: (pick(def, "Port") as number | undefined) ?? 0, Address: (pick(def, "Address") as string | undefined) ?? "",
      Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Datacenter: this.datacenter,
    };
    this.services.set(id, service);
    if (options.replaceExistingChecks) for (const [checkId, check] of this.checks) if (check.ServiceID === id) this.checks.delete(checkId);
    const check = pick(def, "Check") as Record<string, unknown> | undefined;
    if (check !== undefined) this.addCheck({ ...check, ServiceID: id }, service);
    this.applyOrThrow({ op: "catalog.register", Node: this.nodeName, Address: "127.0.0.1", Service: { ID: id, Service: name, Tags: service.Tags, Meta: service.Meta, Port: service.Port, Address: service.Address } } as WriteRequest);
  }

  private addCheck(def: Record<string, unknown>, service?: AgentService): void {
    const name = (pick(def, "Name") as string | undefined) ?? "";
    const id = (pick(def, "CheckID") as string | undefined) ?? (pick(def, "ID") as string | undefined) ?? (service ? `service:${service.ID}` : name);
    if (id === "") throw new ApiError(400, "Missing check name");
    this.checks.set(id, {
      Node: this.nodeName, CheckID: id, Name: name || id, Status: "critical", Notes: "", Output: "",
      ServiceID: service?.ID ?? "", ServiceName: service?.Service ?? "", ServiceTags: service?.Tags ?? [],
      Type: pick(def, "TTL") !== undefined ? "ttl" : "script", Interval: "", Timeout: "", ExposedPort: 0, Definition: {}, CreateIndex: 0, ModifyIndex: 0,
    });
  }

  async deregisterService(id: string): Promise<void> {
    if (!this.services.delete(id)) throw new ApiError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    for (const [checkId, check] of this.checks) if (check.ServiceID === id) this.checks.delete(checkId);
    this.applyOrThrow({ op: "catalog.deregister", Node: this.nodeName, ServiceID: id } as WriteRequest);
  }

  async registerCheck(body: unknown, _options: { token?: string }): Promise<void> {
    const def = body as Record<string, unknown>;
    const serviceId = pick(def, "ServiceID") as string | undefined;
    const service = serviceId === undefined ? undefined : this.services.get(serviceId);
    if (serviceId !== undefined && service === undefined) throw new ApiError(400, `ServiceID "${serviceId}" does not exist`);
    if (typeof pick(def, "Name") !== "string") throw new ApiError(400, "Missing check name");
    this.addCheck(def, service);
  }

  async deregisterCheck(id: string): Promise<void> {
    if (!this.checks.delete(id)) throw new ApiError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  }

  async updateTtlCheck(id: string, status: "passing" | "warning" | "critical", output: string): Promise<void> {
    const check = this.checks.get(id);
    if (check === undefined) throw new ApiError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    check.Status = status;
    check.Output = output;
  }

  async nodeMaintenance(enable: boolean, reason: string): Promise<void> {
    this.nodeMaintenanceReason = enable ? reason : null;
    if (enable) {
      this.checks.set("_node_maintenance", {
        Node: this.nodeName, CheckID: "_node_maintenance", Name: "Node Maintenance Mode", Status: "critical", Notes: reason || "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.",
        Output: "", ServiceID: "", ServiceName: "", ServiceTags: [], Type: "maintenance", Interval: "", Timeout: "", ExposedPort: 0, Definition: {}, CreateIndex: 0, ModifyIndex: 0,
      });
    } else {
      this.checks.delete("_node_maintenance");
    }
  }

  async serviceMaintenance(id: string, enable: boolean, reason: string): Promise<void> {
    const service = this.services.get(id);
    if (service === undefined) throw new ApiError(404, `No service registered with ID "${id}"`);
    const checkId = `_service_maintenance:${id}`;
    if (!enable) {
      this.checks.delete(checkId);
      return;
    }
    this.checks.set(checkId, {
      Node: this.nodeName, CheckID: checkId, Name: "Service Maintenance Mode", Status: "critical", Notes: reason, Output: "",
      ServiceID: id, ServiceName: service.Service, ServiceTags: service.Tags, Type: "maintenance", Interval: "", Timeout: "", ExposedPort: 0, Definition: {}, CreateIndex: 0, ModifyIndex: 0,
    });
  }

  async fireEvent(name: string, payload: Uint8Array, filters: { node?: string; service?: string; tag?: string }): Promise<UserEvent> {
    const event: UserEvent = {
      ID: randomUUID(), Name: name, Payload: payload.length === 0 ? null : Buffer.from(payload).toString("base64"),
      NodeFilter: filters.node ?? "", ServiceFilter: filters.service ?? "", TagFilter: filters.tag ?? "", Version: 1, LTime: this.eventLog.length + 1,
    };
    this.eventLog.push(event);
    if (this.eventLog.length > eventBufferMax) this.eventLog.shift();
    const waiters = this.eventWaiters;
    this.eventWaiters = [];
    for (const wake of waiters) wake();
    return event;
  }

  /** Consul's event index: a hash of the newest event's ID (here its LTime, which is as good for a test). */
  private eventIndex(name?: string): number {
    const events = this.eventLog.filter((event) => name === undefined || event.Name === name);
    return events.length === 0 ? 0 : events[events.length - 1]!.LTime;
  }

  async events(options: { name?: string; index?: number; waitMs?: number }): Promise<{ index: number; events: UserEvent[] }> {
    const from = options.index ?? 0;
    if (from > 1 || (from === 1 && this.eventIndex(options.name) <= 1)) {
      const deadline = Date.now() + (options.waitMs ?? 300_000);
      while (this.eventIndex(options.name) === from && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          this.eventWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
    const events = this.eventLog.filter((event) => options.name === undefined || event.Name === options.name);
    return { index: this.eventIndex(options.name), events };
  }

  async coordinateNodes(options: ReadOptions): Promise<ReadResult<unknown[]>> {
    return {
      meta: { index: Math.max(1, this.catalog.appliedIndex), knownLeader: true, lastContactMs: 0, consistency: options.consistency },
      value: [{ Node: this.nodeName, Segment: "", Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 } }],
    };
  }

  async coordinateDatacenters(): Promise<unknown[]> {
    return [{ Datacenter: this.datacenter, AreaID: "wan", Coordinates: [] }];
  }

  async metrics(format: "json" | "prometheus"): Promise<string | Record<string, unknown>> {
    if (format === "prometheus") {
      const registry = new Registry();
      const gauge = new Gauge({ name: "consul_kv_keys", help: "KV keys stored", registers: [registry] });
      gauge.set(this.catalog.stats().kvKeys);
      return registry.metrics();
    }
    return { Timestamp: new Date().toISOString(), Gauges: [{ Name: "consul.kv.keys", Value: this.catalog.stats().kvKeys, Labels: {} }], Points: [], Counters: [], Samples: [] };
  }

  monitor(level: string, onLine: (line: string) => void): () => void {
    const subscriber = { level: levelRank(level), onLine };
    this.monitors.add(subscriber);
    return () => this.monitors.delete(subscriber);
  }

  /** Test hook: an agent log line at `level`. */
  log(level: string, message: string): void {
    for (const subscriber of this.monitors) {
      if (levelRank(level) >= subscriber.level) subscriber.onLine(`${new Date().toISOString()} [${level.toUpperCase()}] agent: ${message}`);
    }
  }

  get monitorCount(): number {
    return this.monitors.size;
  }

  async host(): Promise<Record<string, unknown>> {
    return { Memory: { total: 1 }, CPU: [], Host: { hostname: "fake", os: "linux" }, Disk: {}, CollectionTime: Date.now(), Errors: null };
  }
}

function levelRank(level: string): number {
  return ["trace", "debug", "info", "warn", "error"].indexOf(level.toLowerCase());
}

function pick(body: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(body, name)) return body[name];
  const key = Object.keys(body).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : body[key];
}
