/**
 * Script checks (`args`): the program runs without a shell, in its own process group, with
 * stdout and stderr captured together into a 4 KiB tail. Exit 0 is passing, 1 warning, anything
 * else (another code, a signal) critical: the Nagios plugin convention Consul follows. At the
 * timeout (Consul's default 30 s) the whole process group is killed, so a script's children go
 * too, and the check reports `Timed out (<timeout>) running check` straight to critical.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { formatGoDuration } from "../../core/catalog/codec.ts";
import { capturedOutput, TailBuffer } from "../../core/checks/output.ts";
import type { ProbeOptions, ProbeResult } from "./probe.ts";

/** Consul's CheckMonitor timeout when the check sets none. */
export const scriptTimeoutMsDefault = 30_000;

/** After the process exits, how long to wait for its pipes to drain before giving up on them. */
const pipeDrainGraceMs = 250;

export function runScript(args: readonly string[], options: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const program = args[0];
    if (program === undefined || program === "") {
      resolve({ status: "critical", output: "exec: no command" });
      return;
    }
    const output = new TailBuffer(options.outputMaxBytes);
    let child: ChildProcess;
    try {
      // detached: the child leads a new process group (setsid), so one kill reaches its children.
      child = spawn(program, args.slice(1), { detached: true, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    } catch (err) {
      resolve({ status: "critical", output: spawnErrorText(program, err as NodeJS.ErrnoException) });
      return;
    }
    let settled = false;
    let timedOut = false;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };
    const onAbort = (): void => {
      killGroup(child);
      finish({ status: "critical", output: "check stopped" });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, options.timeoutMs);
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) onAbort();

    child.stdout?.on("data", (chunk: Uint8Array) => output.write(chunk));
    child.stderr?.on("data", (chunk: Uint8Array) => output.write(chunk));
    child.on("error", (err: NodeJS.ErrnoException) => {
      finish({ status: "critical", output: spawnErrorText(program, err) });
    });
    const conclude = (code: number | null): void => {
      if (timedOut) {
        let message = `Timed out (${formatGoDuration(options.timeoutMs)}) running check`;
        const text = capturedOutput(output);
        if (text.length > 0) message += `\n\n${text}`;
        finish({ status: "critical", output: message, direct: true });
        return;
      }
      const text = capturedOutput(output);
      if (code === 0) finish({ status: "passing", output: text });
      else if (code === 1) finish({ status: "warning", output: text });
      else finish({ status: "critical", output: text });
    };
    // 'close' comes after the pipes drain; a grandchild that escaped the group and holds a pipe
    // would delay it forever, so 'exit' starts a short grace period.
    child.on("close", (code) => conclude(code));
    child.on("exit", (code) => {
      setTimeout(() => {
        // Still open: something the script left running holds a pipe. Its group goes with it.
        if (!settled) killGroup(child, true);
        conclude(code);
      }, pipeDrainGraceMs).unref();
    });
  });
}

function killGroup(child: ChildProcess, leftovers = false): void {
  if (child.pid === undefined) return;
  if (!leftovers && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is gone already, or was never formed: kill the child itself.
    try {
      child.kill("SIGKILL");
    } catch {
      // Nothing left to kill.
    }
  }
}

/** Go's `exec` errors, so a missing program reads as it does in Consul. */
function spawnErrorText(program: string, err: NodeJS.ErrnoException): string {
  const hasSlash = program.includes("/");
  switch (err.code) {
    case "ENOENT":
      return hasSlash ? `fork/exec ${program}: no such file or directory` : `exec: ${JSON.stringify(program)}: executable file not found in $PATH`;
    case "EACCES":
      return `fork/exec ${program}: permission denied`;
    default:
      return `fork/exec ${program}: ${err.message}`;
  }
}
