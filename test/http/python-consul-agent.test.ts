/**
 * The same python-consul scripts as python-consul.test.ts, against a real `-dev` agent started
 * in-process (src/agent/run.ts) on its own loopback address: the acceptance script (KV, CAS,
 * sessions, locks, txn, blocking) and test/http/python-consul.py (catalog, health, agent,
 * sessions, events, status, coordinates).
 */
import test from "ava";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent, type RunningAgent } from "../../src/agent/run.ts";

const python = "/usr/bin/python3";
const here = fileURLToPath(new URL(".", import.meta.url));
const acceptance = join(here, "../../../shared/acceptance/api-python-consul.py");
const host = "127.0.0.77";
const havePython = existsSync(python) && existsSync("/usr/lib/python3/dist-packages/consul/__init__.py");

let running: RunningAgent | null = null;
test.after.always(async () => {
  await running?.stop();
});

function run(script: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(python, [script, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: stdout + stderr });
    });
  });
}

(havePython ? test.serial : test.skip)("python-consul against a real -dev agent: the acceptance script and the catalog/agent script", async (t) => {
  t.timeout(240_000);
  const { config } = loadConfig(["-dev", "-bind", host, "-client", host, "-dns-port", "-1", "-http-port", "0"]);
  running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  const port = running.httpPorts[0]!;
  const deadline = Date.now() + 30_000;
  while ((await (await fetch(`http://${host}:${port}/v1/status/leader`)).text()).length <= 2) {
    if (Date.now() > deadline) return t.fail("no leader within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  const dir = mkdtempSync(join(tmpdir(), "praetor-pyconsul-agent-"));
  const mine = join(dir, "python-consul.py");
  writeFileSync(mine, readFileSync(join(here, "python-consul.py"), "utf8").replace('host="127.0.0.1"', `host="${host}"`));
  const catalog = await run(mine, [String(port)]);
  t.log(catalog.output.trim());
  t.is(catalog.code, 0, catalog.output);
  if (existsSync(acceptance)) {
    const script = join(dir, "api-python-consul.py");
    writeFileSync(script, readFileSync(acceptance, "utf8").replaceAll("127.0.0.1", host).replaceAll("8500", String(port)));
    const kv = await run(script, []);
    t.log(kv.output.trim());
    t.is(kv.code, 0, kv.output);
  }
});
