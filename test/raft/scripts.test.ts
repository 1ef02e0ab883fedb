import test from "ava";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { replayScript } from "./script.ts";

const dir = fileURLToPath(new URL("./scripts/", import.meta.url));
const rewrite = process.env["RAFT_SCRIPT_REWRITE"] === "1";
const scripts = readdirSync(dir).filter((f) => f.endsWith(".txt"));

test("interaction scripts exist", (t) => {
  t.true(scripts.length >= 2);
});

for (const file of scripts) {
  test(`script ${file}`, (t) => {
    const problems = replayScript(`${dir}${file}`, rewrite);
    t.deepEqual(problems, [], problems.join("\n\n"));
  });
}
