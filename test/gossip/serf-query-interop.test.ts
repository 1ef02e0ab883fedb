/**
 * Serf queries between a real `serf agent` and Praetor members on loopback (127.0.0.62-67):
 * `serf query` gets Praetor's acks and responses (filters and relays included), a Praetor member's
 * query is acked and answered by serf (its event handler answers user queries; `_serf_ping` is
 * answered by serf itself), and `serf keys` lists, installs into and removes from Praetor's keyrings
 * in an encrypted pool, while Praetor's `_serf_list-keys` gets serf's keys.
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeKeyResponse, encodeKeyRequest } from "../../src/core/gossip/wire/serf-query-codec.ts";
import type { GossipEndpoint } from "../../src/transports/gossip-endpoint.ts";
import { GossipKeyring } from "../../src/transports/gossip-keyring.ts";
import { startGossipMember } from "../../src/transports/gossip-member.ts";
import { SerfAgent, eventually, serfInstalled, serfMissingMessage } from "./serf-agent.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array | undefined): string => (b === undefined ? "" : new TextDecoder().decode(b));

/** Answers every user query with "<name> says <payload>". */
function answering(endpoint: GossipEndpoint, name: string): void {
  endpoint.onEvent((e) => {
    if (e.type === "query") endpoint.respond(e.lTime, e.id, text(`${name} says ${str(e.payload)}`));
  });
}

async function allAlive(serf: SerfAgent, names: string[]): Promise<void> {
  await eventually(async () => {
    const m = await serf.members();
    return names.every((n) => m.some((x) => x.name === n && x.status === "alive")) ? true : undefined;
  }, `serf to list ${names.join(", ")} alive`, 20_000);
}

test("serf query reaches Praetor members (with filters and relays); a Praetor query is answered by serf", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  const dir = mkdtempSync(path.join(tmpdir(), "praetor-serf-query-"));
  const handler = path.join(dir, "handler.sh");
  writeFileSync(handler, "#!/bin/sh\ncat >/dev/null\nprintf 'serf says pong'\n", { mode: 0o755 });
  const serf = await SerfAgent.start({ node: "serf-q", bind: "127.0.0.62:7946", rpc: "127.0.0.62:7373", tags: { role: "serf" }, eventHandler: `query=${handler}` });
  const p1 = await startGossipMember({ name: "p1-q", bind: "127.0.0.63:7946", tags: { role: "web" } });
  const p2 = await startGossipMember({ name: "p2-q", bind: "127.0.0.64:7946", tags: { role: "db" } });
  t.teardown(async () => {
    serf.kill();
    await p1.kill();
    await p2.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  answering(p1, "p1-q");
  answering(p2, "p2-q");
  await p1.joinAndWait(["127.0.0.62:7946"]);
  await p2.joinAndWait(["127.0.0.62:7946"]);
  await allAlive(serf, ["p1-q", "p2-q"]);

  const all = JSON.parse(await serf.run("query", "-format", "json", "-timeout", "4s", "-relay-factor", "1", "greet", "hi")) as {
    Acks: string[]; Responses: Record<string, string>;
  };
  t.deepEqual([...all.Acks].sort(), ["p1-q", "p2-q", "serf-q"]);
  t.deepEqual(all.Responses, { "p1-q": "p1-q says hi", "p2-q": "p2-q says hi", "serf-q": "serf says pong" });

  const filtered = JSON.parse(await serf.run("query", "-format", "json", "-timeout", "3s", "-tag", "role=^(web|serf)$", "-node", "p1-q", "-node", "p2-q", "greet", "you")) as {
    Acks: string[]; Responses: Record<string, string>;
  };
  t.deepEqual(filtered.Acks, ["p1-q"], "only p1 passes both the node and the tag filter");
  t.deepEqual(filtered.Responses, { "p1-q": "p1-q says you" });

  const asked = await p1.query("greet", text("yo"), { requestAck: true, relayFactor: 1, timeoutMs: 3000 });
  t.deepEqual([...asked.acks].sort(), ["p1-q", "p2-q", "serf-q"]);
  t.deepEqual(Object.fromEntries([...asked.responses].map(([k, v]) => [k, str(v)])), {
    "p1-q": "p1-q says yo", "p2-q": "p2-q says yo", "serf-q": "serf says pong",
  });
  const ping = await p2.query("_serf_ping", new Uint8Array(0), { requestAck: true, timeoutMs: 2000, filterNodes: ["serf-q"] });
  t.deepEqual(ping.acks, ["serf-q"], "serf answers its internal ping");
  t.is(ping.responses.size, 0);
});

test("serf keys lists, installs into and removes from Praetor's keyrings; Praetor's _serf_list-keys gets serf's keys", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  const keygen = (): string => execFileSync("serf", ["keygen"], { encoding: "utf8" }).trim();
  const [k1, k2, k3] = [keygen(), keygen(), keygen()];
  const serf = await SerfAgent.start({ node: "serf-k", bind: "127.0.0.65:7946", rpc: "127.0.0.65:7373", encrypt: k1 });
  const ring3 = GossipKeyring.fromBase64(k1);
  const ring4 = GossipKeyring.fromBase64(k1, [k2]);
  const p3 = await startGossipMember({ name: "p3-k", bind: "127.0.0.66:7946", keyring: ring3 });
  const p4 = await startGossipMember({ name: "p4-k", bind: "127.0.0.67:7946", keyring: ring4 });
  t.teardown(async () => {
    serf.kill();
    await p3.kill();
    await p4.kill();
  });
  await p3.joinAndWait(["127.0.0.65:7946"]);
  await p4.joinAndWait(["127.0.0.65:7946"]);
  await allAlive(serf, ["p3-k", "p4-k"]);

  const listed = await serf.run("keys", "-list");
  t.regex(listed, new RegExp(`${k1.replace(/[+/]/g, "\\$&")}\\s+\\[3/3\\]`), listed);
  t.regex(listed, new RegExp(`${k2.replace(/[+/]/g, "\\$&")}\\s+\\[1/3\\]`), listed);

  await serf.run("keys", "-install", k3);
  t.deepEqual(ring3.list(), [k1, k3]);
  t.deepEqual(ring4.list(), [k1, k2, k3]);
  await serf.run("keys", "-use", k3);
  t.is(ring3.list()[0], k3, "the pool rotated to k3; Praetor seals with it now");
  await serf.run("keys", "-remove", k1);
  t.deepEqual(ring3.list(), [k3]);
  await allAlive(serf, ["p3-k", "p4-k"]);

  const fromSerf = await p3.query("_serf_list-keys", encodeKeyRequest(new Uint8Array(0)), { timeoutMs: 3000 });
  t.deepEqual(decodeKeyResponse(fromSerf.responses.get("serf-k")!), { Result: true, Message: "", Keys: [k3], PrimaryKey: k3 });
  t.deepEqual([...decodeKeyResponse(fromSerf.responses.get("p4-k")!).Keys].sort(), [k2, k3].sort());
  const failing = await serf.run("keys", "-remove", k3).catch((e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`);
  t.regex(failing, /p3-k\s+removing the primary key is not allowed/, `Praetor's refusal reaches serf's CLI: ${failing}`);
  t.regex(failing, /p4-k\s+removing the primary key is not allowed/, failing);
});
