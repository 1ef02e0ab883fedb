/**
 * The gossip-node command as a user runs it: two processes on loopback join, print JSON lines for
 * the join, carry a user event typed on one's stdin to the other, and on SIGTERM the leaving one
 * is printed as member-leave (status left) by the other.
 */
import test from "ava";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { eventually } from "./serf-agent.ts";

interface NodeProcess {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: Record<string, unknown>[];
  stderr: string;
}

function gossipNode(args: string[]): NodeProcess {
  const proc = spawn(process.execPath, ["--import", "tsx", "src/cli/gossip-node.ts", ...args], { stdio: "pipe" });
  const node: NodeProcess = { proc, lines: [], stderr: "" };
  let partial = "";
  proc.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop()!;
    for (const line of parts) node.lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  proc.stderr.on("data", (d: Buffer) => (node.stderr += d.toString()));
  return node;
}

const find = (n: NodeProcess, event: string, name: string): Record<string, unknown> | undefined =>
  n.lines.find((l) => l.event === event && l.name === name);

test("gossip-node: join, a stdin event reaches the other node, SIGTERM leaves gracefully", async (t) => {
  const a = gossipNode(["--name", "cli-a", "--bind", "127.0.0.1:17761", "--tag", "role=web", "--tag", "dc=dc1"]);
  t.teardown(() => a.proc.kill("SIGKILL"));
  await eventually(() => (a.stderr.includes("listening") ? true : undefined), "a to listen", 20_000);
  const b = gossipNode(["--name", "cli-b", "--bind", "127.0.0.1:17762", "--join", "127.0.0.1:17761"]);
  t.teardown(() => b.proc.kill("SIGKILL"));
  const joined = await eventually(() => find(b, "member-join", "cli-a"), "b to print a's join", 20_000);
  t.deepEqual(joined, { event: "member-join", name: "cli-a", addr: "127.0.0.1:17761", status: "alive", tags: { role: "web", dc: "dc1" } });
  await eventually(() => find(a, "member-join", "cli-b"), "a to print b's join", 10_000);

  a.proc.stdin.write("event deploy v42 and more\nnot an event\n");
  const event = await eventually(() => find(b, "user-event", "deploy"), "the user event at b", 10_000);
  t.is(event.payload, "v42 and more");
  await eventually(() => (a.stderr.includes("ignored") ? true : undefined), "a to ignore the bad line", 5_000);

  const exited = new Promise<number | null>((resolve) => b.proc.on("exit", (code) => resolve(code)));
  b.proc.kill("SIGTERM");
  const left = await eventually(() => find(a, "member-leave", "cli-b"), "a to print b's leave", 15_000);
  t.is(left.status, "left");
  t.is(await exited, 0);
  t.falsy(find(a, "member-failed", "cli-b"));
});
