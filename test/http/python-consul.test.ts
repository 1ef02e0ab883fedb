/**
 * python-consul (Debian python3-consul), unmodified, against the HTTP API over the fake
 * backend: the acceptance script `../shared/acceptance/api-python-consul.py` (KV, CAS, sessions,
 * locks, txn, blocking) with its port rewritten, and test/http/python-consul.py (catalog,
 * health, agent, session, events, status, coordinates).
 */
import test from "ava";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startApi } from "./harness.ts";

const python = "/usr/bin/python3";
const here = fileURLToPath(new URL(".", import.meta.url));
const acceptance = join(here, "../../../shared/acceptance/api-python-consul.py");

function havePythonConsul(): boolean {
  if (!existsSync(python)) return false;
  try {
    return existsSync("/usr/lib/python3/dist-packages/consul/__init__.py");
  } catch {
    return false;
  }
}

function run(script: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(python, [script, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, output: stdout + stderr });
    });
  });
}

const needsPython = havePythonConsul() ? test : test.skip;

needsPython("python-consul: catalog, health, agent, sessions, events, status and coordinates", async (t) => {
  const api = await startApi(t);
  const { code, output } = await run(join(here, "python-consul.py"), [String(api.port)]);
  t.log(output.trim());
  t.is(code, 0, output);
  t.regex(output, /(\d+)\/\1 checks hold/);
});

(havePythonConsul() && existsSync(acceptance) ? test : test.skip)("python-consul: the api-python-consul acceptance script (KV, CAS, sessions, locks, txn, blocking)", async (t) => {
  const api = await startApi(t);
  const dir = mkdtempSync(join(tmpdir(), "praetor-pyconsul-"));
  const script = join(dir, "api-python-consul.py");
  writeFileSync(script, readFileSync(acceptance, "utf8").replaceAll("8500", String(api.port)));
  const { code, output } = await run(script, []);
  t.log(output.trim());
  t.is(code, 0, output);
});
