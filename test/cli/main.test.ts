/**
 * The executable end to end (src/cli/main.ts under tsx, as a separate process) for exit codes and
 * streams, plus in-process runs of the local commands: version, keygen, validate, help, agent errors.
 */
import test from "ava";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type { AgentConfig } from "../../src/agent/config/types.ts";
import { formatBanner } from "../../src/cli/commands/agent.ts";
import { runCli } from "../../src/cli/program.ts";
import { VERSION } from "../../src/cli/version.ts";
import { captureIo } from "./fake-agent.ts";

const execFileP = promisify(execFile);
const mainTs = path.resolve("src/cli/main.ts");

async function spawnCli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ["--import", "tsx", mainTs, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function cli(args: string[]) {
  const { io, stdout, stderr } = captureIo();
  const code = await runCli(args, io);
  return { code, stdout: stdout(), stderr: stderr() };
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-cli-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the process: version prints three lines and exits 0; a bad flag exits 1 on stderr", async (t) => {
  const [version, bad, noDataDir] = await Promise.all([spawnCli(["version"]), spawnCli(["agent", "-dev", "-no-such-flag"]), spawnCli(["agent", "-server"])]);
  t.is(version.code, 0);
  t.is(version.stdout, `Praetor v${VERSION}\nRevision unknown\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)\n`);
  t.is(version.stderr, "");
  t.is(bad.code, 1);
  t.is(bad.stdout, "");
  t.is(bad.stderr, "flag provided but not defined: -no-such-flag\nRun 'praetor agent -h' for the list of options.\n");
  t.is(noDataDir.code, 1);
  t.is(noDataDir.stderr, "==> data_dir cannot be empty (set -data-dir or data_dir, or use -dev for an in-memory agent)\n");
});

test("the version in version.ts is package.json's", (t) => {
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string };
  t.is(VERSION, pkg.version);
});

test("-v, --version and -version print the version too", async (t) => {
  for (const arg of ["-v", "--version", "-version"]) {
    const r = await cli([arg]);
    t.is(r.code, 0);
    t.regex(r.stdout, /^Praetor v\d+\.\d+\.\d+\n/);
  }
});

test("help lists the commands; no command is an error with the same list; an unknown command names itself", async (t) => {
  const help = await cli(["help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: praetor \[--version\] \[--help\] <command> \[<args>\]\n\nAvailable commands are:\n/);
  for (const name of ["agent", "force-leave", "info", "join", "keygen", "leave", "members", "monitor", "operator", "reload", "validate", "version"]) {
    t.regex(help.stdout, new RegExp(`\\n {4}${name} +\\S`), name);
  }
  const none = await cli([]);
  t.is(none.code, 1);
  t.is(none.stderr, help.stdout);
  const unknown = await cli(["frobnicate"]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /^Unknown command: "frobnicate"\n/);
  const group = await cli(["operator", "raft", "nope"]);
  t.is(group.code, 1);
  t.regex(group.stderr, /^Unknown subcommand: "nope"\n\nUsage: praetor operator raft <subcommand>/);
  t.regex(group.stderr, /\n {4}list-peers +Display the current Raft peer configuration\n/);
});

test("keygen: 32 random bytes in base64, different every time, and accepted by -encrypt", async (t) => {
  const a = (await cli(["keygen"])).stdout.trim();
  const b = (await cli(["keygen"])).stdout.trim();
  t.is(Buffer.from(a, "base64").length, 32);
  t.is(Buffer.from(a, "base64").toString("base64"), a);
  t.not(a, b);
  const { loadConfig } = await import("../../src/agent/config/index.ts");
  t.is(loadConfig(["-dev", "-encrypt", a]).config.encrypt, a);
});

test("validate: a good directory is valid; a bad file names itself, the key and what was expected; -quiet is quiet", async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "a.json"), JSON.stringify({ data_dir: "/var/praetor", server: true, bootstrap_expect: 3 }));
  fs.writeFileSync(path.join(dir, "b.hcl"), 'retry_join = ["10.0.0.1"]\nunknown_thing = 1\n');
  const ok = await cli(["validate", dir]);
  t.is(ok.code, 0);
  t.is(ok.stdout, "Configuration is valid!\n");
  t.is(ok.stderr, `Warning: ${path.join(dir, "b.hcl")}: invalid config key unknown_thing (ignored)\n`);
  t.is((await cli(["validate", "-quiet", dir])).stdout, "");
  const bad = path.join(dir, "bad.json");
  fs.writeFileSync(bad, JSON.stringify({ data_dir: "/d", ports: { dns: "53" } }));
  const failed = await cli(["validate", bad]);
  t.is(failed.code, 1);
  t.is(failed.stdout, "");
  t.is(failed.stderr, `Config validation failed: ${bad}: ports.dns: expected a port number (1-65535, 0 for any free port, -1 to disable), got string "53"\n`);
  const none = await cli(["validate"]);
  t.is(none.code, 1);
  t.is(none.stderr, "Must specify at least one config file or directory\n");
  const missing = await cli(["validate", path.join(dir, "missing.json")]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^Config validation failed: Error reading ".*missing\.json": no such file or directory\n$/);
});

test("agent -h lists the agent's flags; config errors are one line after ==>", async (t) => {
  const help = await cli(["agent", "-h"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: praetor agent \[options\]/);
  for (const flag of ["bootstrap-expect=<n>", "config-dir=<path>", "dev", "retry-join=<addr>", "encrypt=<key>"]) t.true(help.stdout.includes(`  -${flag}\n`), flag);
  const dir = tempDir(t);
  const file = path.join(dir, "c.json");
  fs.writeFileSync(file, '{"server": "yes"}');
  const bad = await cli(["agent", "-dev", "-config-file", file]);
  t.is(bad.code, 1);
  t.is(bad.stderr, `==> ${file}: server: expected true or false, got string "yes"\n`);
  t.is(bad.stdout, "");
});

test("the banner: labels right-aligned to Consul's column, addresses and ports from the config", (t) => {
  const config = {
    nodeName: "node-1", datacenter: "dc1", server: true, bootstrap: false, clientAddrs: ["127.0.0.1", "10.0.0.1"],
    ports: { http: 8500, https: -1, grpc: -1, dns: 8600, serfLan: 8301, serfWan: 8302, server: 8300 },
    bindAddr: "0.0.0.0", advertiseAddr: "10.0.0.1", encrypt: "k",
  } as unknown as AgentConfig;
  t.is(formatBanner(config, "41958888-acfb-fe9e-13ae-a3b8f8534b2a"), [
    `           Version: '${VERSION}'`,
    "           Node ID: '41958888-acfb-fe9e-13ae-a3b8f8534b2a'",
    "         Node name: 'node-1'",
    "        Datacenter: 'dc1' (Segment: '<all>')",
    "            Server: true (Bootstrap: false)",
    "       Client Addr: [127.0.0.1 10.0.0.1] (HTTP: 8500, HTTPS: -1, gRPC: -1, DNS: 8600)",
    "      Cluster Addr: 10.0.0.1 (LAN: 8301, WAN: 8302)",
    "           Encrypt: Gossip: true, TLS-Outgoing: false, TLS-Incoming: false, Auto-Encrypt-TLS: false",
  ].join("\n"));
  const client = formatBanner({ ...config, server: false, advertiseAddr: undefined, encrypt: undefined } as unknown as AgentConfig, undefined);
  t.false(client.includes("Node ID"));
  t.true(client.includes("        Datacenter: 'dc1' (Segment: '')\n"));
  t.true(client.includes("      Cluster Addr: 0.0.0.0 (LAN: 8301, WAN: 8302)\n"));
  t.true(client.endsWith("Encrypt: Gossip: false, TLS-Outgoing: false, TLS-Incoming: false, Auto-Encrypt-TLS: false"));
});
