/**
 * `/v1/operator/keyring` on a real agent (`-dev -encrypt`, 127.0.0.68) whose LAN pool holds a real
 * `serf agent -encrypt` (127.0.0.69): the agent lists, installs, makes primary and removes keys
 * through Serf's keyring queries, serf's own keyring follows, and Consul's answer shapes and
 * errors come back (a failure names the members that refused); `praetor keyring` drives the same.
 * A server with a data dir (127.0.0.69, no serf) keeps the keyrings in serf/*.keyring across a restart.
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent, type RunningAgent } from "../../src/agent/run.ts";
import { runCommand } from "../../src/cli/command.ts";
import { keyringCommand } from "../../src/cli/commands/keyring.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { SerfAgent, eventually, serfInstalled, serfMissingMessage } from "./serf-agent.ts";

let running: RunningAgent | null = null;
let serf: SerfAgent | null = null;
test.after.always(async () => {
  serf?.kill();
  await running?.stop();
});

interface PoolAnswer {
  WAN: boolean; Datacenter: string; Keys: Record<string, number>; PrimaryKeys: Record<string, number>; NumNodes: number; Messages: Record<string, string>;
}

test.serial("the agent's /v1/operator/keyring rotates the key of a pool shared with serf", async (t) => {
  if (!serfInstalled()) return t.fail(serfMissingMessage);
  t.timeout(90_000);
  const keygen = (): string => execFileSync("serf", ["keygen"], { encoding: "utf8" }).trim();
  const [k1, k2] = [keygen(), keygen()];
  const { config } = loadConfig(["-dev", "-node", "praetor-k", "-bind", "127.0.0.68", "-client", "127.0.0.68", "-encrypt", k1, "-dns-port", "-1", "-http-port", "0"]);
  running = await startAgent(config, createLogger({ level: "error", write: () => {} }));
  const base = `http://127.0.0.68:${running.httpPorts[0]}/v1/operator/keyring`;
  serf = await SerfAgent.start({ node: "serf-kr", bind: "127.0.0.69:7946", rpc: "127.0.0.69:7373", encrypt: k1 });
  await serf.run("join", "127.0.0.68:8301");
  await eventually(async () => ((await serf!.members()).filter((m) => m.status === "alive").length === 2 ? true : undefined), "a pool of two", 20_000);
  await eventually(() => (running!.agent.members({ wan: false }).length === 2 ? true : undefined), "the agent to see serf", 20_000);

  const list = async (): Promise<PoolAnswer[]> => {
    const res = await fetch(base);
    t.is(res.status, 200);
    return (await res.json()) as PoolAnswer[];
  };
  const lan = (answers: PoolAnswer[]): PoolAnswer => answers.find((a) => !a.WAN)!;
  const first = await list();
  t.deepEqual(first.map((a) => a.WAN).sort(), [false, true], "a server reports its WAN and LAN pools");
  t.like(lan(first), { Datacenter: "dc1", Keys: { [k1]: 2 }, PrimaryKeys: { [k1]: 2 }, NumNodes: 2, Messages: {} });

  const send = (method: string, key: string): Promise<Response> => fetch(base, { method, body: JSON.stringify({ Key: key }) });
  t.is((await send("POST", k2)).status, 200);
  t.like(lan(await list()), { Keys: { [k1]: 2, [k2]: 2 } });
  t.regex(await serf.run("keys", "-list"), new RegExp(`${k2.replace(/[+/]/g, "\\$&")}\\s+\\[2/2\\]`));
  t.is((await send("PUT", k2)).status, 200);
  t.like(lan(await list()), { PrimaryKeys: { [k2]: 2 } });
  t.is((await send("DELETE", k1)).status, 200);
  t.deepEqual(lan(await list()).Keys, { [k2]: 2 });

  const refused = await send("DELETE", k2);
  t.is(refused.status, 500);
  t.regex(await refused.text(), /2\/2 nodes reported failure.*serf-kr.*primary key/i);
  const bad = await fetch(base, { method: "POST", body: "{}" });
  t.is(bad.status, 400);
  t.regex(await bad.text(), /"Key" string is required/);
  t.is((await send("POST", "not-a-key")).status, 400);
  t.is((await fetch(`${base}?relay-factor=9`)).status, 400);

  const cli = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const io: CliIo = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: {}, signal: new AbortController().signal };
    const code = await runCommand(keyringCommand, "keyring", [...args, "-http-addr", `127.0.0.68:${running!.httpPorts[0]}`], io);
    return { code, out, err };
  };
  const k3 = keygen();
  t.like(await cli("-install", k3), { code: 0, out: "==> Installing new gossip encryption key...\n" });
  const listed = await cli("-list", "-relay-factor", "1");
  t.is(listed.code, 0, listed.err);
  t.regex(listed.out, new RegExp(`dc1 \\(LAN\\):\n  (.*\n  )?${k3.replace(/[+/]/g, "\\$&")} \\[2/2\\]`), listed.out);
  t.regex(listed.out, /^WAN:$/m);
  const failed = await cli("-remove", k2);
  t.is(failed.code, 1);
  t.regex(failed.err, /nodes reported failure/);
  t.like(await cli("-list", "-use", k3), { code: 1, err: "Only a single action is allowed\n" });
});

test.serial("with a data dir the agent keeps each pool's keyring in serf/*.keyring, and a restart loads it over -encrypt", async (t) => {
  t.timeout(90_000);
  const dir = mkdtempSync(path.join(tmpdir(), "praetor-keyring-agent-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keygen = (): string => randomBytes(32).toString("base64");
  const [k1, k2] = [keygen(), keygen()];
  const args = ["-server", "-bootstrap-expect", "1", "-data-dir", dir, "-node", "praetor-f", "-bind", "127.0.0.69", "-client", "127.0.0.69", "-encrypt", k1, "-dns-port", "-1", "-http-port", "0"];
  const start = async (): Promise<RunningAgent> => startAgent(loadConfig(args).config, createLogger({ level: "error", write: () => {} }));
  let agent = await start();
  t.teardown(() => agent.stop());
  const base = (): string => `http://127.0.0.69:${agent.httpPorts[0]}/v1/operator/keyring`;
  t.is((await fetch(base(), { method: "POST", body: JSON.stringify({ Key: k2 }) })).status, 200);
  const stored = (pool: string): unknown => JSON.parse(readFileSync(path.join(dir, "serf", pool), "utf8"));
  t.deepEqual(stored("local.keyring"), [k1, k2]);
  t.deepEqual(stored("remote.keyring"), [k1, k2]);
  t.is((await fetch(base(), { method: "PUT", body: JSON.stringify({ Key: k2 }) })).status, 200);
  await agent.stop();
  agent = await start();
  const answers = (await (await fetch(base())).json()) as PoolAnswer[];
  t.deepEqual(answers.map((a) => a.PrimaryKeys), [{ [k2]: 1 }, { [k2]: 1 }], "k2 stays primary after the restart, whatever -encrypt says");
});
