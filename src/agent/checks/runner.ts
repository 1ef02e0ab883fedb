/**
 * The agent's health-check runner: it owns the timers, processes and sockets of every check the
 * agent has, feeds their results through the pure status machine (`src/core/checks/status.ts`)
 * and tells the agent what changed. What a result does (thresholds, the critical spells that
 * deregister a service) is the pure CheckStates table (src/core/agent/check-states.ts), the one
 * the simulator's agent scenario drives from its seed. The agent keeps the checks' records and
 * syncs them to the catalog; the runner only runs them.
 *
 * - Interval checks (script, http, tcp, udp, grpc) first run at a random point within their interval,
 *   as Consul staggers them, then every interval after the previous run ends. A check never runs
 *   twice at once, and no more than `concurrencyMax` runs hold a process or socket together.
 * - TTL checks go critical with `TTL expired` unless `ttlUpdate` comes within the TTL.
 * - Alias checks read another instance's checks through the agent's `aliasSource`.
 * - Script checks are refused unless the agent enabled them (see `scriptRefusal`).
 * - A service check critical for longer than its `deregister_critical_service_after` is
 *   reported through `onDeregisterCritical`, once per critical spell.
 */
import { aliasResult, type AliasedCheck } from "../../core/checks/alias.ts";
import { outputMaxBytesDefault, truncateTtlOutput } from "../../core/checks/output.ts";
import { CheckStates } from "../../core/agent/check-states.ts";
import type { CheckChange } from "../../core/checks/status.ts";
import { checkResultStatuses, type CheckDefinition, type CheckResultStatus } from "../../core/checks/types.ts";
import { grpcTimeoutMsDefault, runGrpc } from "./grpc.ts";
import { runHttp, httpTimeoutMsDefault } from "./http.ts";
import { BoundedPool } from "./pool.ts";
import type { ProbeOptions, ProbeResult } from "./probe.ts";
import { runScript, scriptTimeoutMsDefault } from "./script.ts";
import { runTcp, tcpTimeoutMsDefault } from "./tcp.ts";
import { runUdp, udpTimeoutMsDefault } from "./udp.ts";

/** Where a check came from: config files are local, the HTTP API is remote. */
export type CheckOrigin = "local" | "remote";

/** What an alias check is given to read: the checks of the aliased node, and whether the service exists. */
export interface AliasView {
  readonly checks: readonly AliasedCheck[];
  readonly serviceExists: boolean;
}

/** The agent's catalog reader for alias checks. `node` "" means the agent's own node. */
export type AliasSource = (target: { node: string; serviceId: string }) => AliasView | Promise<AliasView>;

export interface CheckRunnerConfig {
  /** Consul's `enable_script_checks`: scripts from config files and from the HTTP API. */
  readonly enableScriptChecks: boolean;
  /** Consul's `enable_local_script_checks`: scripts from config files only. */
  readonly enableLocalScriptChecks: boolean;
  /** Most check runs holding a process or socket at once. Default 64: a fork bomb's ceiling. */
  readonly concurrencyMax?: number;
  /** Consul's `check_output_max_size`: 4096 bytes. */
  readonly outputMaxBytes?: number;
  /** Consul's `checks.MinInterval`, 1 s: shorter intervals are raised to it. Tests lower it. */
  readonly intervalMinMs?: number;
  /** Consul's `check_deregister_interval_min`, 1 min: the least deregister_critical_service_after. */
  readonly deregisterCriticalMinMs?: number;
  /** How often critical spells are compared with deregister_critical_service_after (Consul's reap interval, 30 s). */
  readonly reapIntervalMs?: number;
  /** The agent's catalog reader; alias checks are refused without it. */
  readonly aliasSource?: AliasSource;
  /** How often alias checks re-read their target (besides after every local change). Default 1 s. */
  readonly aliasPollMs?: number;
  /** Injected for tests: the stagger of first runs (a float in [0, 1)) and the wall clock. */
  readonly random?: () => number;
  readonly nowMs?: () => number;
  readonly log?: (level: "debug" | "warn" | "error", message: string) => void;
}

/** A refused call. `httpStatus` is what Consul answers with for the same refusal. */
export class CheckRunnerError extends Error {
  override name = "CheckRunnerError";
  constructor(message: string, readonly httpStatus: 400 | 404 | 500) {
    super(message);
  }
}

export interface CheckSnapshot {
  readonly definition: CheckDefinition;
  readonly origin: CheckOrigin;
  readonly status: CheckResultStatus;
  readonly output: string;
  /** Milliseconds critical so far (0 when not critical). */
  readonly criticalForMs: number;
}

export type CheckChangeListener = (id: string, status: CheckResultStatus, output: string, definition: CheckDefinition) => void;
export type DeregisterListener = (serviceId: string, checkId: string, criticalForMs: number) => void;

interface Entry {
  readonly def: CheckDefinition;
  readonly origin: CheckOrigin;
  /** The next run (interval checks), the TTL's expiry, or the alias poll. */
  timer: Cancel | null;
  /** Aborted on remove/stop: ends a queued or running probe. */
  readonly abort: AbortController;
  running: Promise<void> | null;
  removed: boolean;
  /** TTL: the last output set, kept for the `TTL expired (last output ...)` text. */
  lastTtlOutput: string;
  /** Alias: another evaluation was asked for while one ran. */
  aliasDirty: boolean;
}

const intervalKinds = new Set(["script", "http", "tcp", "udp", "grpc"]);

export class CheckRunner {
  private readonly entries = new Map<string, Entry>();
  private readonly states: CheckStates;
  private readonly changeListeners = new Set<CheckChangeListener>();
  private readonly deregisterListeners = new Set<DeregisterListener>();
  private readonly pool: BoundedPool;
  private readonly outputMaxBytes: number;
  private readonly intervalMinMs: number;
  private readonly aliasPollMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly reaper: NodeJS.Timeout;
  private stopped = false;
  private runsCompleted = 0;

  constructor(private readonly config: CheckRunnerConfig) {
    this.pool = new BoundedPool(config.concurrencyMax ?? 64);
    this.outputMaxBytes = positive("outputMaxBytes", config.outputMaxBytes ?? outputMaxBytesDefault);
    this.intervalMinMs = positive("intervalMinMs", config.intervalMinMs ?? 1000);
    this.states = new CheckStates({ deregisterCriticalMinMs: nonNegative("deregisterCriticalMinMs", config.deregisterCriticalMinMs ?? 60_000) });
    this.aliasPollMs = positive("aliasPollMs", config.aliasPollMs ?? 1000);
    this.random = config.random ?? Math.random;
    this.now = config.nowMs ?? Date.now;
    this.reaper = setInterval(() => this.reapCritical(), positive("reapIntervalMs", config.reapIntervalMs ?? 30_000));
    this.reaper.unref();
  }

  /** The pool's numbers: runs in flight, runs waiting, the most ever in flight together, runs finished. */
  get poolStats(): { active: number; queued: number; peakActive: number; slotsMax: number; runsCompleted: number } {
    return { active: this.pool.active, queued: this.pool.queued, peakActive: this.pool.peakActive, slotsMax: this.pool.slotsMax, runsCompleted: this.runsCompleted };
  }

  /**
   * Starts running a check. An existing check with the same ID is replaced, keeping its current
   * status and output so a reload does not flap (Consul snapshots them the same way).
   * Throws CheckRunnerError when the check may not run here.
   */
  add(def: CheckDefinition, options: { origin: CheckOrigin }): void {
    if (this.stopped) throw new CheckRunnerError(`check ${JSON.stringify(def.id)}: the check runner has stopped`, 500);
    const refusal = this.refusal(def, options.origin);
    if (refusal !== null) throw new CheckRunnerError(refusal, 500);
    const previous = this.entries.get(def.id);
    if (previous !== undefined) this.retire(previous);
    this.states.add({
      id: def.id, serviceId: def.serviceId, status: def.status, deregisterCriticalServiceAfterMs: def.deregisterCriticalServiceAfterMs,
      thresholds: { successBeforePassing: def.successBeforePassing, failuresBeforeWarning: def.failuresBeforeWarning, failuresBeforeCritical: def.failuresBeforeCritical },
    }, this.now());
    const entry: Entry = {
      def, origin: options.origin, timer: null, abort: new AbortController(), running: null,
      removed: false, lastTtlOutput: previous?.lastTtlOutput ?? "", aliasDirty: false,
    };
    this.entries.set(def.id, entry);
    if (intervalKinds.has(def.probe.kind) && def.intervalMs < this.intervalMinMs) {
      this.config.log?.("warn", `check has interval below minimum: check=${def.id} interval=${def.intervalMs}ms minimum_interval=${this.intervalMinMs}ms`);
    }
    this.start(entry);
  }

  /** Stops and forgets a check; a run in flight is cut short and its result dropped. */
  remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.states.remove(id);
    this.retire(entry);
    return true;
  }

  list(): CheckSnapshot[] {
    return [...this.entries.values()].map((e) => this.snapshot(e));
  }

  get(id: string): CheckSnapshot | undefined {
    const entry = this.entries.get(id);
    return entry === undefined ? undefined : this.snapshot(entry);
  }

  /**
   * `check/pass|warn|fail|update` for a TTL check: sets its status and output (output kept to
   * the first 4 KiB, with Consul's marker) and restarts its TTL. Returns the output as stored.
   */
  ttlUpdate(id: string, status: CheckResultStatus, output: string): string {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.def.probe.kind !== "ttl") {
      throw new CheckRunnerError(`CheckID ${JSON.stringify(id)} does not have associated TTL`, 404);
    }
    if (!checkResultStatuses.includes(status)) {
      throw new CheckRunnerError(`Unknown check status ${JSON.stringify(status)}: expected "passing", "warning" or "critical"`, 400);
    }
    const stored = truncateTtlOutput(output, this.outputLimit(entry.def));
    entry.lastTtlOutput = stored;
    this.armTtl(entry);
    this.apply(entry, this.states.directResult(id, status, stored, this.now()));
    return stored;
  }

  /** A TTL check's TTL in ms; null for other checks and unknown IDs. */
  ttlOf(id: string): number | null {
    const entry = this.entries.get(id);
    return entry === undefined || entry.def.probe.kind !== "ttl" ? null : entry.def.ttlMs;
  }

  /** Called with every change of a check's status or output. Returns an unsubscribe function. */
  onChange(listener: CheckChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called once per critical spell when a service check outlasts deregister_critical_service_after. */
  onDeregisterCritical(listener: DeregisterListener): () => void {
    this.deregisterListeners.add(listener);
    return () => this.deregisterListeners.delete(listener);
  }

  /** Re-reads every alias check's target now (the agent calls this when its catalog view changes). */
  refreshAliases(): void {
    for (const entry of this.entries.values()) if (entry.def.probe.kind === "alias") void this.evaluateAlias(entry);
  }

  /** Stops every check, kills running scripts and waits until every run has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reaper);
    const running: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      this.retire(entry);
      if (entry.running !== null) running.push(entry.running);
    }
    this.entries.clear();
    for (const id of this.states.ids()) this.states.remove(id);
    await Promise.all(running);
  }

  /** Why a check may not run on this agent, or null. */
  private refusal(def: CheckDefinition, origin: CheckOrigin): string | null {
    const kind = def.probe.kind;
    if (kind === "script" || kind === "docker") {
      const refused = scriptRefusal(def.id, origin, this.config);
      if (refused !== null) return refused;
    }
    if (!intervalKinds.has(kind) && kind !== "ttl" && kind !== "alias") {
      return `check ${JSON.stringify(def.id)}: ${kind} checks are not supported by this agent yet (supported: script, http, tcp, udp, grpc, ttl, alias)`;
    }
    if (kind === "alias" && this.config.aliasSource === undefined) {
      return `check ${JSON.stringify(def.id)}: alias checks need the agent's catalog reader, and this runner was built without one`;
    }
    return null;
  }

  private start(entry: Entry): void {
    const kind = entry.def.probe.kind;
    if (kind === "ttl") {
      this.armTtl(entry);
    } else if (kind === "alias") {
      void this.evaluateAlias(entry);
    } else {
      // Consul's lib.RandomStagger: the first run lands anywhere within the interval.
      const staggerMs = Math.floor(this.random() * this.intervalOf(entry));
      this.schedule(entry, staggerMs);
    }
  }

  private retire(entry: Entry): void {
    entry.removed = true;
    entry.timer?.cancel();
    entry.timer = null;
    entry.abort.abort();
  }

  private intervalOf(entry: Entry): number {
    return Math.max(entry.def.intervalMs, this.intervalMinMs);
  }

  private outputLimit(def: CheckDefinition): number {
    return def.outputMaxSize > 0 ? Math.min(def.outputMaxSize, this.outputMaxBytes) : this.outputMaxBytes;
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (entry.removed) return;
    entry.timer = after(Math.ceil(delayMs), () => {
      entry.timer = null;
      entry.running = this.runOnce(entry).finally(() => {
        entry.running = null;
        this.schedule(entry, this.intervalOf(entry));
      });
    });
  }

  private async runOnce(entry: Entry): Promise<void> {
    const release = await this.pool.acquire(entry.abort.signal);
    if (release === null) return;
    let result: ProbeResult;
    try {
      result = await this.probe(entry);
    } catch (err) {
      // A probe should never throw; if one does, the check says so instead of the agent dying.
      result = { status: "critical", output: `check failed to run: ${(err as Error).message}` };
      this.config.log?.("error", `check ${entry.def.id}: probe threw: ${(err as Error).stack ?? String(err)}`);
    } finally {
      release();
      this.runsCompleted++;
    }
    if (entry.removed) return;
    const nowMs = this.now();
    const id = entry.def.id;
    this.apply(entry, result.direct === true
      ? this.states.directResult(id, result.status, result.output, nowMs)
      : this.states.probeResult(id, result.status, result.output, nowMs));
  }

  private probe(entry: Entry): Promise<ProbeResult> {
    const probe = entry.def.probe;
    const options = (defaultTimeoutMs: number): ProbeOptions => ({
      timeoutMs: entry.def.timeoutMs > 0 ? entry.def.timeoutMs : defaultTimeoutMs,
      outputMaxBytes: this.outputLimit(entry.def),
      signal: entry.abort.signal,
    });
    switch (probe.kind) {
      case "script":
        return runScript(probe.args, options(scriptTimeoutMsDefault));
      case "http":
        return runHttp(probe, options(httpTimeoutMsDefault));
      case "tcp":
        return runTcp(probe.address, options(tcpTimeoutMsDefault));
      case "udp":
        return runUdp(probe.address, options(udpTimeoutMsDefault));
      case "grpc":
        return runGrpc(probe, options(grpcTimeoutMsDefault));
      default:
        throw new Error(`${probe.kind} is not an interval probe`);
    }
  }

  private armTtl(entry: Entry): void {
    if (entry.removed) return;
    entry.timer?.cancel();
    entry.timer = after(Math.ceil(entry.def.ttlMs), () => {
      entry.timer = null;
      if (entry.removed) return;
      this.config.log?.("warn", `Check missed TTL, is now critical: check=${entry.def.id}`);
      const output = entry.lastTtlOutput === "" ? "TTL expired" : `TTL expired (last output before timeout follows): ${entry.lastTtlOutput}`;
      this.apply(entry, this.states.directResult(entry.def.id, "critical", output, this.now()));
    });
  }

  private async evaluateAlias(entry: Entry): Promise<void> {
    if (entry.removed) return;
    if (entry.running !== null) {
      entry.aliasDirty = true;
      return;
    }
    entry.timer?.cancel();
    entry.timer = null;
    const run = this.readAlias(entry);
    entry.running = run;
    await run;
    entry.running = null;
    if (entry.removed) return;
    if (entry.aliasDirty) {
      entry.aliasDirty = false;
      return this.evaluateAlias(entry);
    }
    entry.timer = after(this.aliasPollMs, () => void this.evaluateAlias(entry));
  }

  private async readAlias(entry: Entry): Promise<void> {
    const probe = entry.def.probe;
    if (probe.kind !== "alias") return;
    const source = this.config.aliasSource!;
    let result: { status: CheckResultStatus; output: string };
    try {
      const view = await untilAborted(Promise.resolve(source({ node: probe.aliasNode, serviceId: probe.aliasService })), entry.abort.signal);
      if (view === null) return;
      result = aliasResult({ node: probe.aliasNode, serviceId: probe.aliasService }, view.checks, view.serviceExists);
    } catch (err) {
      result = { status: "critical", output: `Failure checking aliased node or service: ${(err as Error).message}` };
    }
    if (entry.removed) return;
    this.apply(entry, this.states.directResult(entry.def.id, result.status, result.output, this.now()));
  }

  private apply(entry: Entry, change: CheckChange | null): void {
    const next = this.states.state(entry.def.id);
    if (change === null || next === undefined || !change.changed) return;
    if (change.statusChanged) this.config.log?.(next.status === "passing" ? "debug" : "warn", `Check is now ${next.status}: check=${entry.def.id}`);
    for (const listener of this.changeListeners) {
      try {
        listener(entry.def.id, next.status, next.output, entry.def);
      } catch (err) {
        this.config.log?.("error", `check ${entry.def.id}: change listener threw: ${(err as Error).message}`);
      }
    }
    // An alias may mirror the check that just changed; let aliases look again.
    if (entry.def.probe.kind !== "alias") {
      for (const other of this.entries.values()) if (other.def.probe.kind === "alias") void this.evaluateAlias(other);
    }
  }

  private reapCritical(): void {
    for (const { serviceId, checkId, criticalForMs: forMs } of this.states.dueDeregistrations(this.now())) {
      this.config.log?.("warn", `Check for service has been critical for too long; deregistered service: service=${serviceId} check=${checkId}`);
      for (const listener of this.deregisterListeners) {
        try {
          listener(serviceId, checkId, forMs);
        } catch (err) {
          this.config.log?.("error", `deregister listener threw: ${(err as Error).message}`);
        }
      }
    }
  }

  private snapshot(entry: Entry): CheckSnapshot {
    const state = this.states.state(entry.def.id)!;
    return {
      definition: entry.def,
      origin: entry.origin,
      status: state.status,
      output: state.output,
      criticalForMs: this.states.criticalForMs(entry.def.id, this.now()),
    };
  }
}

/**
 * Consul's refusal of script checks, with the reason it is off by default: an agent that runs
 * scripts registered over its HTTP API runs whatever program any caller sends.
 */
export function scriptRefusal(checkId: string, origin: CheckOrigin, flags: { enableScriptChecks: boolean; enableLocalScriptChecks: boolean }): string | null {
  const why = `script checks are off by default because an agent that accepts them over its HTTP API runs any program a caller sends: open script registration is remote code execution`;
  if (origin === "local" && !flags.enableScriptChecks && !flags.enableLocalScriptChecks) {
    return `Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true (check ${JSON.stringify(checkId)} runs a program; ${why}. 'enable_local_script_checks' allows scripts from config files only)`;
  }
  if (origin === "remote" && !flags.enableScriptChecks) {
    return `Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true (check ${JSON.stringify(checkId)} runs a program; ${why}. Prefer 'enable_local_script_checks', which allows scripts from config files only)`;
  }
  return null;
}

interface Cancel {
  cancel(): void;
}

/** Node's timers hold at most 2^31-1 ms (a longer delay fires after 1 ms!); longer waits are chained. */
const timerMaxMs = 2 ** 31 - 1;

function after(delayMs: number, fn: () => void): Cancel {
  let handle: NodeJS.Timeout;
  const arm = (remainingMs: number): void => {
    handle = setTimeout(() => (remainingMs > timerMaxMs ? arm(remainingMs - timerMaxMs) : fn()), Math.min(remainingMs, timerMaxMs));
  };
  arm(Math.max(0, delayMs));
  return { cancel: () => clearTimeout(handle) };
}

/** The promise's value, or null as soon as the signal aborts (a catalog read must not hold up stop()). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener("abort", onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener("abort", onAbort); reject(err); },
    );
  });
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`check runner: ${name} ${value} must be > 0`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`check runner: ${name} ${value} must be >= 0`);
  return value;
}
