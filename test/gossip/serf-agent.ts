/**
 * A real `serf agent` for the interoperability tests: started on loopback ports of the test's
 * choosing, queried and driven through the serf CLI's RPC, killed at teardown. When serf is not
 * installed the tests fail with how to install it (.ci/install-deps.sh), rather than skip.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export function serfInstalled(): boolean {
  return spawnSync("serf", ["version"], { stdio: "ignore" }).status === 0;
}

export const serfMissingMessage =
  "the `serf` binary is not installed: run `bash .ci/install-deps.sh` (apt-get install serf) to run the interoperability tests";

export interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string>;
}

export class SerfAgent {
  private readonly log: string[] = [];

  private constructor(private readonly proc: ChildProcess, readonly rpcAddr: string) {
    proc.stdout?.on("data", (d: Buffer) => this.log.push(d.toString()));
    proc.stderr?.on("data", (d: Buffer) => this.log.push(d.toString()));
    // A test that fails before its teardown kills serf must not keep the ava worker (and the whole
    // run) alive on serf's pipes, nor leave serf holding the test's ports for the next run.
    proc.unref();
    for (const pipe of [proc.stdout, proc.stderr]) (pipe as { unref?: () => void } | null)?.unref?.();
    const killOnExit = (): void => { proc.kill("SIGKILL"); };
    process.once("exit", killOnExit);
    proc.once("exit", () => process.off("exit", killOnExit));
  }

  static async start(options: {
    node: string; bind: string; rpc: string; tags?: Record<string, string>; eventHandler?: string; encrypt?: string;
  }): Promise<SerfAgent> {
    const args = ["agent", "-node", options.node, "-bind", options.bind, "-rpc-addr", options.rpc, "-log-level", "debug"];
    if (options.encrypt) args.push("-encrypt", options.encrypt);
    for (const [k, v] of Object.entries(options.tags ?? {})) args.push("-tag", `${k}=${v}`);
    if (options.eventHandler) args.push("-event-handler", options.eventHandler);
    const agent = new SerfAgent(spawn("serf", args, { stdio: ["ignore", "pipe", "pipe"] }), options.rpc);
    const startedMs = performance.now();
    for (;;) {
      try {
        await agent.members();
        return agent;
      } catch (e) {
        if (performance.now() - startedMs > 5000) {
          agent.kill();
          throw new Error(`serf agent did not start: ${String(e)}\n${agent.logText()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async members(): Promise<SerfMember[]> {
    const { stdout } = await execFileAsync("serf", ["members", "-rpc-addr", this.rpcAddr, "-format", "json"]);
    return (JSON.parse(stdout) as { members: SerfMember[] }).members;
  }

  async run(...args: string[]): Promise<string> {
    const [command, ...rest] = args;
    const { stdout } = await execFileAsync("serf", [command!, "-rpc-addr", this.rpcAddr, ...rest]);
    return stdout;
  }

  logText(): string {
    return this.log.join("");
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.proc.kill(signal);
  }
}

export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number): Promise<T> {
  const startMs = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() - startMs > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
