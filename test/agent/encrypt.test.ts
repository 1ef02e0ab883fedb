/**
 * `-encrypt`: a Praetor agent and a real `serf agent -encrypt` (Debian serf) with the same key
 * share one pool; a serf agent with another key is kept out and the agent logs the mismatch.
 */
import test from "ava";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent, type RunningAgent } from "../../src/agent/run.ts";

const hasSerf = spawnSync("serf", ["version"]).status === 0;
const children: ChildProcess[] = [];
let running: RunningAgent | null = null;

test.after.always(async () => {
  for (const c of children) c.kill("SIGKILL");
  await running?.stop();
});

async function until(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.serial("an agent and serf share a pool on the same key; another key is refused and logged", async (t) => {
  if (!hasSerf) return t.fail("serf is not installed (.ci/install-deps.sh installs it)");
  t.timeout(60_000);
  const key = randomBytes(32).toString("base64");
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => void lines.push(line) });
  const { config } = loadConfig(["-dev", "-bind", "127.0.0.51", "-client", "127.0.0.51", "-encrypt", key, "-dns-port", "-1", "-http-port", "0"]);
  running = await startAgent(config, logger);
  const agent = running.agent;
  const serf = spawn("serf", ["agent", "-node", "serf-good", "-bind", "127.0.0.52:7946", "-rpc-addr", "127.0.0.52:7373", "-encrypt", key, "-join", "127.0.0.51:8301"], { stdio: "ignore" });
  children.push(serf);
  await until("serf-good alive in the agent's pool", 20_000, () => agent.members({ wan: false }).some((m) => m.Name === "serf-good" && m.Status === 1));

  const otherKey = randomBytes(32).toString("base64");
  const intruder = spawn("serf", ["agent", "-node", "serf-bad", "-bind", "127.0.0.53:7946", "-rpc-addr", "127.0.0.53:7373", "-encrypt", otherKey, "-join", "127.0.0.51:8301"], { stdio: "ignore" });
  children.push(intruder);
  await until("the mismatch logged", 20_000, () => lines.some((l) => /encryption key mismatch/i.test(l)));
  t.false(agent.members({ wan: false }).some((m) => m.Name === "serf-bad"), "a member with another key never joins");
  const mismatch = lines.find((l) => /encryption key mismatch/i.test(l)) ?? "";
  // serf dials from whatever source address the kernel picks; the line names that socket peer.
  t.regex(mismatch, /peer=127\.0\.0\.\d+:\d+/, `the log names the peer: ${mismatch}`);
});
