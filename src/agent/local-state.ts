/**
 * What this agent owns: its services and checks (from config files and the HTTP API), their
 * health as the check runner reports it, and the durable copy of the API-registered ones (they
 * survive a restart, as Consul's data dir keeps them). Anti-entropy (src/core/agent/anti-entropy.ts)
 * compares this with the catalog; this module only holds the state and says when it changed.
 */
import type { CheckStatus } from "../core/catalog/types.ts";
import type { LocalCheck, LocalService } from "../core/agent/anti-entropy.ts";
import type { AgentCheck, AgentService } from "./api.ts";

export type Origin = "config" | "api";

export interface ServiceEntry {
  readonly service: LocalService;
  readonly origin: Origin;
  /** The definition as given, for persistence and /v1/agent/service/:id. */
  readonly definition: Record<string, unknown>;
}

export interface CheckEntry {
  check: LocalCheck;
  readonly origin: Origin;
  readonly definition: Record<string, unknown>;
  readonly interval: string;
  readonly timeout: string;
  /** When the output last went to the catalog (check_update_interval). */
  outputSyncedMs: number;
}

export interface PersistedCheckState {
  readonly Status: "passing" | "warning" | "critical";
  readonly Output: string;
  /** Wall-clock ms after which the state is stale (the TTL from the last update). */
  readonly ExpiresMs: number;
}

export interface DurableStore {
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  entries(prefix: string): Promise<[string, unknown][]>;
  close(): Promise<void>;
}

/** A store that keeps nothing (dev mode, and tests). */
export class MemoryStore implements DurableStore {
  private readonly map = new Map<string, unknown>();
  async put(key: string, value: unknown): Promise<void> {
    this.map.set(key, structuredClone(value));
  }
  async del(key: string): Promise<void> {
    this.map.delete(key);
  }
  async entries(prefix: string): Promise<[string, unknown][]> {
    return [...this.map].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1));
  }
  async close(): Promise<void> {}
}

/** classic-level under the data dir: `service/<id>`, `check/<id>`, `meta/<name>` as JSON. */
export async function openLevelStore(path: string): Promise<DurableStore> {
  const { ClassicLevel } = await import("classic-level");
  const db = new ClassicLevel<string, string>(path, { valueEncoding: "utf8" });
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new Error(`cannot open the agent's state in ${path}: ${cause} (another agent using the same -data-dir? stop it, or pick another -data-dir)`);
  }
  return {
    put: (key, value) => db.put(key, JSON.stringify(value)),
    del: (key) => db.del(key),
    async entries(prefix) {
      const out: [string, unknown][] = [];
      for await (const [key, value] of db.iterator({ gte: prefix, lt: `${prefix}\uffff` })) {
        try {
          out.push([key, JSON.parse(value)]);
        } catch {
          // A damaged record is skipped: the agent starts, and the entry can be registered again.
        }
      }
      return out;
    },
    close: () => db.close(),
  };
}

export class LocalState {
  readonly services = new Map<string, ServiceEntry>();
  readonly checks = new Map<string, CheckEntry>();
  private readonly listeners = new Set<(urgent: boolean) => void>();
  /** Bumped on every change: a sync that started before a change must run again. */
  generation = 0;

  constructor(private readonly store: DurableStore, private readonly nodeName: string, private readonly datacenter: string) {}

  /** `urgent` is false for a check's output-only change, which Consul syncs lazily (check_update_interval). */
  onChange(listener: (urgent: boolean) => void): void {
    this.listeners.add(listener);
  }

  private changed(urgent = true): void {
    this.generation++;
    for (const l of this.listeners) l(urgent);
  }

  async addService(entry: ServiceEntry): Promise<void> {
    this.services.set(entry.service.ID, entry);
    if (entry.origin === "api") await this.store.put(`service/${entry.service.ID}`, entry.definition);
    this.changed();
  }

  async removeService(id: string): Promise<boolean> {
    const entry = this.services.get(id);
    if (entry === undefined) return false;
    this.services.delete(id);
    for (const [checkId, check] of this.checks) {
      if (check.check.ServiceID === id) await this.removeCheck(checkId, false);
    }
    if (entry.origin === "api") await this.store.del(`service/${id}`);
    this.changed();
    return true;
  }

  async addCheck(entry: CheckEntry): Promise<void> {
    const previous = this.checks.get(entry.check.CheckID);
    // Re-registering keeps the current status unless the definition gave one (Consul keeps state).
    this.checks.set(entry.check.CheckID, previous !== undefined && entry.definition.Status === undefined
      ? { ...entry, check: { ...entry.check, Status: previous.check.Status, Output: previous.check.Output } }
      : entry);
    if (entry.origin === "api") await this.store.put(`check/${entry.check.CheckID}`, entry.definition);
    this.changed();
  }

  async removeCheck(id: string, notify = true): Promise<boolean> {
    const entry = this.checks.get(id);
    if (entry === undefined) return false;
    this.checks.delete(id);
    if (entry.origin === "api") await this.store.del(`check/${id}`);
    await this.store.del(`checkstate/${id}`);
    if (notify) this.changed();
    return true;
  }

  /** A check's new result; true when status or output changed. */
  updateCheck(id: string, status: CheckStatus, output: string): boolean {
    const entry = this.checks.get(id);
    if (entry === undefined) return false;
    if (entry.check.Status === status && entry.check.Output === output) return false;
    const statusChanged = entry.check.Status !== status;
    entry.check = { ...entry.check, Status: status, Output: output };
    this.changed(statusChanged);
    return true;
  }

  /**
   * A TTL check's last status (Consul's persistCheckState): kept until `expiresMs`, so an agent
   * restarted within the TTL reports what the application last said instead of the initial status.
   */
  async saveCheckState(id: string, state: PersistedCheckState): Promise<void> {
    await this.store.put(`checkstate/${id}`, state);
  }

  /** The saved state of a TTL check, or null when there is none, it expired, or it is damaged. */
  async checkState(id: string, nowMs: number): Promise<PersistedCheckState | null> {
    const found = (await this.store.entries(`checkstate/${id}`)).find(([key]) => key === `checkstate/${id}`);
    const value = found?.[1] as Partial<PersistedCheckState> | undefined;
    const valid = value !== undefined && typeof value.Output === "string" && typeof value.ExpiresMs === "number" &&
      (value.Status === "passing" || value.Status === "warning" || value.Status === "critical");
    if (!valid || value.ExpiresMs! <= nowMs) {
      if (found !== undefined) await this.store.del(`checkstate/${id}`);
      return null;
    }
    return value as PersistedCheckState;
  }

  /** The API-registered definitions kept from an earlier run. */
  async persisted(): Promise<{ services: unknown[]; checks: unknown[] }> {
    return {
      services: (await this.store.entries("service/")).map(([, v]) => v),
      checks: (await this.store.entries("check/")).map(([, v]) => v),
    };
  }

  /** Removes every config-file service and check (before a reload re-adds them). */
  async dropConfigOrigin(): Promise<void> {
    for (const [id, entry] of [...this.services]) if (entry.origin === "config") await this.removeService(id);
    for (const [id, entry] of [...this.checks]) if (entry.origin === "config") await this.removeCheck(id);
  }

  agentServices(): Record<string, AgentService> {
    const out: Record<string, AgentService> = {};
    for (const [id, { service }] of [...this.services].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[id] = {
        ID: service.ID, Service: service.Service, Tags: [...service.Tags], Meta: { ...service.Meta }, Port: service.Port,
        Address: service.Address, Weights: { ...service.Weights }, EnableTagOverride: service.EnableTagOverride,
        Datacenter: this.datacenter, ...(service.Kind !== "" ? { Kind: service.Kind } : {}),
      };
    }
    return out;
  }

  agentChecks(): Record<string, AgentCheck> {
    const out: Record<string, AgentCheck> = {};
    for (const [id, entry] of [...this.checks].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const c = entry.check;
      const service = c.ServiceID === "" ? undefined : this.services.get(c.ServiceID)?.service;
      out[id] = {
        Node: this.nodeName, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output,
        ServiceID: c.ServiceID, ServiceName: service?.Service ?? "", ServiceTags: [...(service?.Tags ?? [])], Type: c.Type,
        Interval: entry.interval, Timeout: entry.timeout, ExposedPort: 0, Definition: {}, CreateIndex: 0, ModifyIndex: 0,
      };
    }
    return out;
  }
}
