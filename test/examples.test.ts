/**
 * The embeddings in examples/ run as a user would run them: plain Node on the built package,
 * imported by its name ("praetor" resolves to this package's compiled exports).
 */
import test from "ava";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const built = fs.existsSync(path.join(root, "dist/src/index.js"));

async function example(name: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [path.join(root, "examples", name), ...args], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

test("the package is built (npm ci runs npm run build)", (t) => {
  t.true(built, "dist/src/index.js is missing: run npm run build");
});

test("one-seed: a simulator seed runs and passes", async (t) => {
  const out = await example("one-seed.mjs", "7") as { seed: number; outcome: string; events: number };
  t.is(out.seed, 7);
  t.is(out.outcome, "ok");
  t.true(out.events > 0);
});

test("gossip-pair: two members see each other and exchange an event", async (t) => {
  const out = await example("gossip-pair.mjs") as { members: string[]; event: string };
  t.deepEqual(out.members, ["a", "b"]);
  t.is(out.event, "v2");
});

test("agent-in-process: a dev agent answers a KV write and read", async (t) => {
  const out = await example("agent-in-process.mjs") as { put: string; value: string };
  t.deepEqual(out, { put: "true", value: "world" });
});
