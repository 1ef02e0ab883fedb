/** `praetor snapshot inspect FILE`: the index, size and records per type of a saved archive, offline. */
import test from "ava";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../../src/cli/program.ts";
import { Script } from "../catalog/harness.ts";
import { captureIo } from "./fake-agent.ts";

test("snapshot inspect: index, size, version and a Type/Count/Size table; a file that is not an archive is an error", async (t) => {
  const s = new Script();
  s.node("n1");
  s.service("n1", "web", { ID: "web1", Port: 80 });
  for (let i = 0; i < 3; i++) s.set(`k/${i}`, "v".repeat(2000));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-inspect-"));
  const file = path.join(dir, "backup.snap");
  const archive = s.catalog.snapshot();
  fs.writeFileSync(file, archive);

  const { io, stdout, stderr } = captureIo({});
  t.is(await runCli(["snapshot", "inspect", file], io), 0, stderr());
  const lines = stdout().split("\n");
  t.deepEqual(lines.slice(0, 3).map((l) => l.trim().split(/\s+/)), [["Index", String(s.index)], ["Size", String(archive.length)], ["Version", "1"]]);
  const kvs = lines.find((l) => l.trim().startsWith("KVS"))!.trim().split(/\s+/);
  t.is(kvs[1], "3");
  t.regex(kvs[2]!, /^[56]\.\dKB$/, "three 2000-byte values and their keys");
  t.is(lines.find((l) => l.trim().startsWith("Register"))!.trim().split(/\s+/)[1], "3", "a node, its serfHealth check and a service");
  t.true(lines.some((l) => l.trim().startsWith("Total")));

  fs.writeFileSync(path.join(dir, "junk.snap"), "not an archive");
  const bad = captureIo({});
  t.is(await runCli(["snapshot", "inspect", path.join(dir, "junk.snap")], bad.io), 1);
  t.regex(bad.stderr(), /^Error inspecting snapshot: not a/);
  const none = captureIo({});
  t.is(await runCli(["snapshot", "inspect", path.join(dir, "none.snap")], none.io), 1);
  t.regex(none.stderr(), /no such file or directory/);
  fs.rmSync(dir, { recursive: true, force: true });
});
