/**
 * python-consul (Debian python3-consul 0.7.1), unmodified: its `c.query` calls
 * (test/http/python-consul-query.py) against the HTTP API over the fake backend.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startApi } from "./harness.ts";

const python = "/usr/bin/python3";
const here = fileURLToPath(new URL(".", import.meta.url));
const havePythonConsul = existsSync(python) && existsSync("/usr/lib/python3/dist-packages/consul/__init__.py");

(havePythonConsul ? test : test.skip)("python-consul: c.query create, list, get, explain, execute, update, delete", async (t) => {
  const api = await startApi(t);
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(python, [join(here, "python-consul-query.py"), String(api.port)], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: stdout + stderr });
    });
  });
  t.log(output.trim());
  t.is(code, 0, output);
  t.regex(output, /(\d+)\/\1 checks hold/);
});
