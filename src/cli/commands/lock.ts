/**
 * `praetor lock [-n N] [-timeout D] PREFIX CHILD...`: runs CHILD while holding a lock (or, with
 * -n > 1, one of N semaphore slots) under PREFIX, as Consul's lock command does: a session with a
 * 15 s TTL renewed every 7.5 s; the lock key PREFIX/.lock acquired with the session (semaphores:
 * a contender key PREFIX/<session> and a CAS-updated PREFIX/.lock holding {"Limit","Holders"}).
 * If the lock is lost (session gone, key taken) the child is killed. The keys and session are
 * released when the child exits.
 */
import type { ChildProcess } from "node:child_process";
import { parseDurationMs } from "../../agent/config/duration.ts";
import type { Command } from "../command.ts";
import { flagBool, flagString, type ParsedFlags } from "../flags.ts";
import { ApiClient, ApiRequestError, clientFlags, clientOptions } from "../http-client.ts";
import { type CliIo, println } from "../io.ts";

/** Consul's flag values marking lock and semaphore keys (api.LockFlagValue, api.SemaphoreFlagValue). */
const lockFlagValue = "3304740253564472344";
const semaphoreFlagValue = "16210313421097356768";
const sessionTtl = "15s";
const renewEveryMs = 7_500;
/** How long to wait before retrying an acquire refused by lock-delay (api.DefaultLockRetryTime). */
const lockRetryMs = 5_000;
/** After SIGTERM, how long the child gets before SIGKILL. */
const killGraceMs = 5_000;

interface KvPair {
  readonly Key: string;
  readonly ModifyIndex: number;
  readonly Session?: string;
  readonly Value: string | null;
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Waits `ms`, or less if the signal aborts; leaves no listener behind either way. */
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const onAbort = () => {
    clearTimeout(timer);
    resolve();
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
});

class Locker {
  private index = 0;
  constructor(
    private readonly client: ApiClient,
    private readonly prefix: string,
    private readonly session: string,
    private readonly limit: number,
  ) {}

  private get lockKey(): string {
    return `${this.prefix}/.lock`;
  }

  /** Lists PREFIX (blocking past `index` when given) with the index to block on next. */
  private async list(blockIndex: number, signal: AbortSignal): Promise<KvPair[]> {
    try {
      const r = await this.client.request(kvPath(`${this.prefix}/`), { query: { recurse: "", ...(blockIndex > 0 ? { index: String(blockIndex), wait: "5m" } : {}) }, signal });
      this.index = Number(r.headers["x-consul-index"] ?? 0) || 0;
      return JSON.parse(await r.text()) as KvPair[];
    } catch (e) {
      if (e instanceof ApiRequestError && e.status === 404) return [];
      throw e;
    }
  }

  private async put(key: string, query: Record<string, string>, body = ""): Promise<boolean> {
    return (await (await this.client.request(kvPath(key), { method: "PUT", query, body })).text()).trim() === "true";
  }

  /** Tries until acquired (true) or the signal aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    if (this.limit > 1 && !(await this.put(`${this.prefix}/${this.session}`, { acquire: this.session, flags: semaphoreFlagValue }))) {
      throw new ApiRequestError("failed to make contender entry");
    }
    let blockIndex = 0;
    while (!signal.aborted) {
      const pairs = await this.list(blockIndex, signal);
      if (signal.aborted) return false;
      const got = this.limit === 1 ? await this.tryLock(pairs) : await this.trySemaphore(pairs);
      if (got === "acquired") return true;
      if (got === "retry-later") {
        await sleep(lockRetryMs, signal);
        blockIndex = 0;
      } else blockIndex = this.index;
    }
    return false;
  }

  private async tryLock(pairs: readonly KvPair[]): Promise<"acquired" | "held" | "retry-later"> {
    const held = pairs.find((p) => p.Key === this.lockKey)?.Session;
    if (held !== undefined && held !== "" && held !== this.session) return "held";
    if (await this.put(this.lockKey, { acquire: this.session, flags: lockFlagValue })) return "acquired";
    // Free but refused: the lock-delay after the last holder's session ended.
    return "retry-later";
  }

  private async trySemaphore(pairs: readonly KvPair[]): Promise<"acquired" | "held" | "retry-later"> {
    const lock = pairs.find((p) => p.Key === this.lockKey);
    const live = new Set(pairs.filter((p) => p.Key !== this.lockKey && p.Session !== undefined && p.Session !== "").map((p) => p.Session!));
    const state = decodeSemaphore(lock);
    if (state.limit !== this.limit && lock !== undefined) throw new ApiRequestError(`semaphore limit conflict (lock: ${state.limit}, local: ${this.limit})`);
    const holders = Object.keys(state.holders).filter((s) => live.has(s));
    if (holders.includes(this.session)) return "acquired";
    if (holders.length >= this.limit) return "held";
    const next = JSON.stringify({ Limit: this.limit, Holders: Object.fromEntries([...holders, this.session].map((s) => [s, true])) });
    const ok = await this.put(this.lockKey, { cas: String(lock?.ModifyIndex ?? 0), flags: semaphoreFlagValue }, next);
    return ok ? "acquired" : "held";
  }

  /** Resolves when the lock is no longer ours (or the signal aborts). */
  async watchLost(signal: AbortSignal): Promise<void> {
    let blockIndex = 0;
    while (!signal.aborted) {
      let pairs: KvPair[];
      try {
        pairs = await this.list(blockIndex, signal);
      } catch (e) {
        if (signal.aborted) return;
        // Consul's monitor retries a few times before giving up on the lock.
        await sleep(1_000, signal);
        if (e instanceof ApiRequestError && e.status !== undefined && e.status < 500) return;
        continue;
      }
      const lock = pairs.find((p) => p.Key === this.lockKey);
      const ours = this.limit === 1 ? lock?.Session === this.session : this.session in decodeSemaphore(lock).holders;
      if (!ours) return;
      blockIndex = this.index;
    }
  }

  async release(): Promise<void> {
    if (this.limit === 1) {
      await this.put(this.lockKey, { release: this.session, flags: lockFlagValue }).catch(() => false);
      return;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const pairs = await this.list(0, new AbortController().signal);
      const lock = pairs.find((p) => p.Key === this.lockKey);
      if (lock === undefined) break;
      const state = decodeSemaphore(lock);
      delete state.holders[this.session];
      const body = JSON.stringify({ Limit: state.limit, Holders: state.holders });
      if (await this.put(this.lockKey, { cas: String(lock.ModifyIndex), flags: semaphoreFlagValue }, body)) break;
    }
    await this.client.request(kvPath(`${this.prefix}/${this.session}`), { method: "DELETE" }).catch(() => undefined);
  }
}

function decodeSemaphore(lock: KvPair | undefined): { limit: number; holders: Record<string, boolean> } {
  if (lock?.Value === undefined || lock.Value === null) return { limit: 0, holders: {} };
  try {
    const parsed = JSON.parse(Buffer.from(lock.Value, "base64").toString("utf8")) as { Limit?: number; Holders?: Record<string, boolean> };
    return { limit: parsed.Limit ?? 0, holders: { ...(parsed.Holders ?? {}) } };
  } catch {
    throw new ApiRequestError(`semaphore state at ${lock.Key} is not Consul's JSON`);
  }
}

function fail(io: CliIo, message: string): number {
  println(io.stderr, message);
  return 1;
}

async function startChild(args: readonly string[], shell: boolean, passStdin: boolean, io: CliIo): Promise<ChildProcess> {
  const { spawn } = await import("node:child_process");
  const stdio: ("pipe" | "inherit" | "ignore")[] = [passStdin ? "inherit" : "ignore", "pipe", "pipe"];
  const child = shell ? spawn("/bin/sh", ["-c", args.join(" ")], { stdio, env: { ...process.env, ...io.env } }) : spawn(args[0]!, args.slice(1), { stdio, env: { ...process.env, ...io.env } });
  child.stdout?.on("data", (c: Buffer) => io.stdout(c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => io.stderr(c.toString("utf8")));
  return child;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.on("error", () => resolve(127));
    child.on("close", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

function kill(child: ChildProcess): void {
  child.kill("SIGTERM");
  setTimeout(() => child.kill("SIGKILL"), killGraceMs).unref();
}

export const lockCommand: Command = {
  help: `
Usage: praetor lock [options] prefix child...

  Acquires a lock or semaphore at a given path, and invokes a child process
  when successful. The child process can assume the lock is held while it
  executes. If the lock is lost or communication is disrupted the child
  process will be sent a SIGTERM signal and given time to gracefully exit.
  After the grace period expires the process will be hard terminated.

  When -n=1, only a single lock holder or leader exists providing mutual
  exclusion. Setting a higher value switches to a semaphore allowing multiple
  holders to coordinate.
`,
  flags: [
    { name: "n", kind: "int", placeholder: "int", usage: "Optional limit on the number of concurrent lock holders. The underlying implementation switches from a lock to a semaphore when the value is greater than 1. The default value is 1." },
    { name: "name", kind: "string", placeholder: "string", usage: "Optional name to associate with the lock session. It not provided, one is generated based on the provided child command." },
    { name: "pass-stdin", kind: "bool", usage: "Pass stdin to the child process." },
    { name: "shell", kind: "bool", usage: "Use a shell to run the command (can set a custom shell via the SHELL environment variable). The default value is true." },
    { name: "timeout", kind: "duration", placeholder: "duration", usage: "Maximum amount of time to wait to acquire the lock, specified as a duration like \"1s\" or \"3h\". The default value is 0." },
    { name: "child-exit-code", kind: "bool", usage: "Exit 2 if the child process exited with an error if this is true, otherwise this doesn't propagate an error from the child. The default value is false." },
    { name: "verbose", kind: "bool", usage: "Enable verbose (debugging) output." },
    ...clientFlags,
  ],
  async run(parsed, io) {
    if (parsed.args.length < 2) return fail(io, "Key prefix and child command must be specified");
    const prefix = parsed.args[0]!.replace(/^\/+/, "").replace(/\/+$/, "");
    const childArgs = parsed.args.slice(1);
    const limitValue = parsed.values.get("n");
    const limit = typeof limitValue === "number" ? limitValue : 1;
    if (limit < 1) return fail(io, "Lock holder limit must be positive");
    if (prefix === "") return fail(io, "Key prefix must not be empty");
    const timeoutMs = parseDurationMs(flagString(parsed, "timeout") ?? "0") ?? 0;
    const verbose = flagBool(parsed, "verbose");
    const say = (m: string) => verbose && println(io.stdout, m);
    let client: ApiClient;
    let session: string;
    try {
      client = new ApiClient(clientOptions(parsed, io.env));
      await client.request("/v1/agent/self");
      const name = flagString(parsed, "name") ?? `Praetor lock for '${childArgs.join(" ")}' at '${prefix}'`;
      session = (await client.json<{ ID: string }>("/v1/session/create", { method: "PUT", body: JSON.stringify({ Name: name, TTL: sessionTtl, Behavior: "release" }) })).ID;
    } catch (e) {
      if (!(e instanceof ApiRequestError)) throw e;
      return fail(io, `Error querying Praetor agent: ${e.message}`);
    }
    return holdAndRun({ parsed, io, client, session, locker: new Locker(client, prefix, session, limit), childArgs, timeoutMs, say });
  },
};

interface RunState {
  readonly parsed: ParsedFlags;
  readonly io: CliIo;
  readonly client: ApiClient;
  readonly session: string;
  readonly locker: Locker;
  readonly childArgs: readonly string[];
  readonly timeoutMs: number;
  readonly say: (message: string) => void;
}

async function holdAndRun(s: RunState): Promise<number> {
  const { io, client, session, locker } = s;
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  io.signal.addEventListener("abort", onInterrupt, { once: true });
  const renewer = renewSession(client, session, stop.signal);
  const cleanup = async (acquired: boolean) => {
    stop.abort();
    io.signal.removeEventListener("abort", onInterrupt);
    if (acquired) await locker.release().catch((e) => println(io.stderr, `Lock release failed: ${(e as Error).message}`));
    await client.request(`/v1/session/destroy/${session}`, { method: "PUT" }).catch(() => undefined);
    await renewer;
  };
  s.say("Attempting lock acquisition");
  const acquireStop = new AbortController();
  const timer = s.timeoutMs > 0 ? setTimeout(() => acquireStop.abort(), s.timeoutMs) : undefined;
  stop.signal.addEventListener("abort", () => acquireStop.abort(), { once: true });
  let acquired: boolean;
  try {
    acquired = await locker.acquire(acquireStop.signal);
  } catch (e) {
    clearTimeout(timer);
    await cleanup(false);
    if (!(e instanceof ApiRequestError) && !acquireStop.signal.aborted) throw e;
    return fail(io, acquireStop.signal.aborted ? "Shutdown triggered or timeout during lock acquisition" : `Lock acquisition failed: ${(e as Error).message}`);
  }
  clearTimeout(timer);
  if (!acquired) {
    await cleanup(false);
    return fail(io, "Shutdown triggered or timeout during lock acquisition");
  }
  s.say("Starting handler");
  const child = await startChild(s.childArgs, s.parsed.values.get("shell") !== false, flagBool(s.parsed, "pass-stdin"), io);
  const childExit = exited(child);
  const lost = Promise.race([locker.watchLost(stop.signal), renewer]).then(() => "lost" as const);
  const interrupted = new Promise<"interrupted">((resolve) => stop.signal.addEventListener("abort", () => resolve("interrupted"), { once: true }));
  const outcome = await Promise.race([childExit.then((code) => ({ code })), lost, interrupted]);
  if (outcome === "lost" || outcome === "interrupted") {
    println(io.stderr, outcome === "lost" ? "Lock lost, killing child" : "Shutdown triggered, killing child");
    kill(child);
    await childExit;
    await cleanup(true);
    return 1;
  }
  await cleanup(true);
  if (outcome.code !== 0 && flagBool(s.parsed, "child-exit-code")) return 2;
  return 0;
}

/** Renews the session every 7.5 s; resolves when it is gone (the lock is lost with it) or when stopped. */
async function renewSession(client: ApiClient, session: string, signal: AbortSignal): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    await sleep(renewEveryMs, signal);
    if (signal.aborted) return;
    try {
      await client.request(`/v1/session/renew/${session}`, { method: "PUT" });
      failures = 0;
    } catch (e) {
      if (e instanceof ApiRequestError && e.status === 404) return;
      if (++failures >= 3) return;
    }
  }
}
