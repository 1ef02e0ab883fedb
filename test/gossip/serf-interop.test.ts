/**
 * Praetor and a real serf agent in one pool, on loopback (the scenario of the acceptance script
 * 6-gossip-serf-interop, on ports of its own): Praetor joins serf and serf joins Praetor; each side
 * lists the other alive with its tags; user events flow both ways; serf estimates its rtt to a
 * Praetor member from the coordinates in Praetor's acks; a graceful Praetor leave is `left` in
 * serf, and a kill -9 of serf is `failed` in Praetor.
 */
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { GossipEvent } from "../../src/core/gossip/events.ts";
import type { GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { SerfAgent, eventually, serfInstalled, serfMissingMessage } from "./serf-agent.ts";

const serfBind = "127.0.0.1:17746";
const serfRpc = "127.0.0.1:17743";
const p1Bind = "127.0.0.1:17751";
const p2Bind = "127.0.0.1:17752";

function recorder(endpoint: GossipEndpoint): GossipEvent[] {
  const events: GossipEvent[] = [];
  endpoint.onEvent((e) => events.push(e));
  return events;
}

test("a real serf agent and two Praetor members form one pool and see each other's changes", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  const dir = mkdtempSync(path.join(tmpdir(), "praetor-serf-"));
  const handler = path.join(dir, "handler.sh");
  const received = path.join(dir, "serf-events");
  writeFileSync(handler, `#!/bin/sh\n[ "$SERF_EVENT" = user ] && echo "$SERF_USER_EVENT $(cat)" >>"${received}"\nexit 0\n`, { mode: 0o755 });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const serf = await SerfAgent.start({ node: "serf-i", bind: serfBind, rpc: serfRpc, tags: { role: "serf", dc: "dc1" }, eventHandler: handler });
  t.teardown(() => serf.kill());
  const p1 = await startGossipMember({ name: "p1-i", bind: p1Bind, tags: { role: "node", dc: "dc1" } });
  t.teardown(() => p1.kill());
  const p2 = await startGossipMember({ name: "p2-i", bind: p2Bind, tags: { role: "node" } });
  t.teardown(() => p2.kill());
  const atP1 = recorder(p1);

  t.is(await p1.joinAndWait([serfBind]), serfBind, "Praetor joins serf");
  await serf.run("join", p2Bind);
  const members = await eventually(async () => {
    const m = await serf.members();
    return ["p1-i", "p2-i"].every((n) => m.some((x) => x.name === n && x.status === "alive")) ? m : undefined;
  }, "serf to list p1 and p2 alive", 20_000).catch((e: Error) => t.fail(`${e.message}\n${serf.logText().slice(-2000)}`));
  if (!members) return;
  t.deepEqual(members.find((m) => m.name === "p1-i")?.tags, { role: "node", dc: "dc1" });
  const serfSeen = await eventually(() => p1.members().find((m) => m.name === "serf-i" && m.status === "alive"), "p1 to list serf alive", 10_000);
  t.deepEqual(serfSeen.tags, { role: "serf", dc: "dc1" });
  t.true(atP1.some((e) => e.type === "member-join" && e.member.name === "serf-i"));

  await serf.run("event", "deploy", "v42");
  const deploy = await eventually(() => atP1.find((e) => e.type === "user-event" && e.name === "deploy"), "serf's event at p1", 10_000);
  t.is(deploy.type === "user-event" ? new TextDecoder().decode(deploy.payload) : "", "v42");
  p1.userEvent("ping", new TextEncoder().encode("hello"));
  await eventually(() => (readSafe(received).includes("ping hello") ? true : undefined), "p1's event at serf's handler", 10_000);

  // Serf learns a member's coordinate only when it probes that member itself (once a second, round robin).
  const rtt = await eventually(() => serf.run("rtt", "serf-i", "p1-i").then((out) => out, () => undefined), "serf rtt serf-i p1-i", 10_000);
  t.regex(rtt, /[0-9.]+ ms/);

  await p2.leave();
  await eventually(async () => ((await serf.members()).some((m) => m.name === "p2-i" && m.status === "left") ? true : undefined), "p2 left in serf", 15_000);

  serf.kill("SIGKILL");
  await eventually(() => atP1.find((e) => e.type === "member-failed" && e.member.name === "serf-i"), "p1 to mark serf failed", 30_000);
  t.is(p1.members().find((m) => m.name === "serf-i")?.status, "failed");
});

function readSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
