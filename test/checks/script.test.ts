import test from "ava";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckRunner, CheckRunnerError, type CheckResultStatus } from "../../src/agent/checks/index.ts";
import { runScript } from "../../src/agent/checks/script.ts";
import { def, signalNever, sleep, testRunner, until, waitFor } from "./helpers.ts";

/** Alive means running: a killed child reparented to a PID 1 that reaps lazily stays a zombie (state Z) for a while. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

// Generous: a loaded machine can starve a child for seconds; the timeout test sets its own.
const opts = { timeoutMs: 30_000, outputMaxBytes: 4096, signal: signalNever };

test("exit 0 is passing, 1 warning, 2 critical; stdout and stderr both land in the output", async (t) => {
  const rows: Array<[number, CheckResultStatus]> = [[0, "passing"], [1, "warning"], [2, "critical"], [127, "critical"]];
  for (const [code, status] of rows) {
    const result = await runScript(["sh", "-c", `echo out; echo err >&2; exit ${code}`], opts);
    t.is(result.status, status, `exit ${code}`);
    t.true(result.output.includes("out\n") && result.output.includes("err\n"), result.output);
  }
});

test("a script killed by a signal is critical", async (t) => {
  const result = await runScript(["sh", "-c", "kill -9 $$"], opts);
  t.is(result.status, "critical");
});

test("args run without a shell: the seed's \">/dev/null\" reaches the program as an argument", async (t) => {
  const result = await runScript(["echo", "hi", ">/dev/null"], opts);
  t.deepEqual(result, { status: "passing", output: "hi >/dev/null\n" });
});

test("a missing program is critical with Go's exec error", async (t) => {
  t.deepEqual(await runScript(["no-such-program-praetor"], opts), {
    status: "critical", output: 'exec: "no-such-program-praetor": executable file not found in $PATH',
  });
  t.deepEqual(await runScript(["/nonexistent/check.sh"], opts), { status: "critical", output: "fork/exec /nonexistent/check.sh: no such file or directory" });
});

test("output beyond 4 KiB keeps the tail under Consul's Captured marker", async (t) => {
  const result = await runScript(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; printf END"], opts);
  t.is(result.status, "passing");
  t.true(result.output.startsWith("Captured 4096 of 5003 bytes\n...\n"), result.output.slice(0, 60));
  t.true(result.output.endsWith(`${"x".repeat(4093)}END`));
});

test("a hanging script is killed at its timeout with its whole process group", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "praetor-check-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, "child.pid");
  const started = Date.now();
  const result = await runScript(["sh", "-c", `sleep 30 & echo $! > ${pidFile}; echo waiting; wait`], { ...opts, timeoutMs: 300 });
  const tookMs = Date.now() - started;
  t.is(result.status, "critical");
  t.is(result.output, "Timed out (300ms) running check\n\nwaiting\n");
  t.true(result.direct === true, "a timeout bypasses the thresholds, as in Consul");
  t.true(tookMs >= 290 && tookMs < 10_000, `took ${tookMs} ms (the script sleeps 30 s)`);
  const childPid = Number(readFileSync(pidFile, "utf8").trim());
  // SIGKILL is sent; on a loaded machine the child may take a moment to be scheduled and die.
  await until(() => !isAlive(childPid), `the script's child ${childPid} dead`, 5000).catch(() => {});
  t.false(isAlive(childPid), `the script's child ${childPid} outlived the timeout`);
});

test("a script that exits but leaves a child holding its output is finished, and the child killed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "praetor-check-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, "child.pid");
  const started = Date.now();
  const result = await runScript(["sh", "-c", `sleep 30 & echo $! > ${pidFile}; echo done`], opts);
  t.is(result.status, "passing");
  t.is(result.output, "done\n");
  t.true(Date.now() - started < 10_000, "the leftover sleep 30 did not hold the check");
  const leftover = Number(readFileSync(pidFile, "utf8").trim());
  await until(() => !isAlive(leftover), `the leftover ${leftover} dead`, 5000).catch(() => {});
  t.false(isAlive(leftover));
});

test("script checks are refused by default, explaining why and naming the flags", (t) => {
  const runner = new CheckRunner({ enableScriptChecks: false, enableLocalScriptChecks: false });
  t.teardown(() => runner.stop());
  const check = def({ args: ["true"], interval: "10s" }, "web");
  const local = t.throws(() => runner.add(check, { origin: "local" }), { instanceOf: CheckRunnerError });
  t.regex(local.message, /^Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true/);
  t.regex(local.message, /open script registration is remote code execution/);
  const remote = t.throws(() => runner.add(check, { origin: "remote" }));
  t.regex(remote.message, /^Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true/);
  t.deepEqual(runner.list(), []);
});

test("enable_local_script_checks allows scripts from config files only", (t) => {
  const runner = new CheckRunner({ enableScriptChecks: false, enableLocalScriptChecks: true });
  t.teardown(() => runner.stop());
  runner.add(def({ id: "local", args: ["true"], interval: "10s" }, "web"), { origin: "local" });
  t.throws(() => runner.add(def({ id: "remote", args: ["true"], interval: "10s" }, "web"), { origin: "remote" }), { message: /from remote calls/ });
  t.deepEqual(runner.list().map((c) => c.definition.id), ["local"]);
});

test("runner: scripts exiting 0, 1 and 2 report passing, warning and critical through onChange", async (t) => {
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  for (const code of [0, 1, 2]) {
    runner.add(def({ id: `exit${code}`, name: `exit ${code}`, args: ["sh", "-c", `echo code ${code}; exit ${code}`], interval: "50ms" }), { origin: "local" });
  }
  await waitFor(changes, (c) => c.id === "exit0" && c.status === "passing", "exit0 passing");
  await waitFor(changes, (c) => c.id === "exit1" && c.status === "warning", "exit1 warning");
  await waitFor(changes, (c) => c.id === "exit2" && c.status === "critical" && c.output === "code 2\n", "exit2 critical with its output");
  t.deepEqual(runner.list().map((c) => [c.definition.id, c.status, c.output]).sort(), [
    ["exit0", "passing", "code 0\n"], ["exit1", "warning", "code 1\n"], ["exit2", "critical", "code 2\n"],
  ]);
});

test("runner: remove() kills a running script and drops its result", async (t) => {
  const { runner, changes } = testRunner();
  t.teardown(() => runner.stop());
  runner.add(def({ id: "slow", name: "slow", args: ["sh", "-c", "sleep 5; echo late"], interval: "10ms", timeout: "10s" }), { origin: "local" });
  await until(() => runner.poolStats.active === 1, "the script running");
  t.true(runner.remove("slow"));
  await sleep(50);
  t.is(runner.poolStats.active, 0, "the slot is back");
  t.deepEqual(changes, []);
  t.false(runner.remove("slow"), "a second remove finds nothing");
});
