/**
 * The cluster commands, run in-process against a fake agent: what each sends (method, path, query,
 * token) and what it prints, in Consul's words and columns, with Consul's exit codes.
 */
import test from "ava";
import type * as http from "node:http";
import { runCli } from "../../src/cli/program.ts";
import { captureIo, fakeAgent, Reply } from "./fake-agent.ts";

const tags = (role: string, extra: Record<string, string> = {}) => ({ role, dc: "dc1", build: "0.1.0:abc123", vsn: "2", vsn_min: "2", vsn_max: "3", ...extra });
const member = (Name: string, Addr: string, Status: number, Tags: Record<string, string> | null) =>
  ({ Name, Addr, Port: 8301, Tags, Status, ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4 });

const members = [
  member("c1", "10.0.0.3", 4, tags("node")),
  member("s2", "10.0.0.2", 1, tags("consul", { port: "8300" })),
  member("x", "10.0.0.9", 1, {}),
  member("c2", "::1", 3, tags("node", { build: "" })),
  member("s1", "10.0.0.1", 1, tags("consul", { port: "8300" })),
];

async function run(argv: string[], routes: Record<string, unknown>, env: Record<string, string> = {}) {
  const agent = await fakeAgent(routes);
  try {
    const { io, stdout, stderr } = captureIo({ CONSUL_HTTP_ADDR: agent.addr, ...env });
    const code = await runCli(argv, io);
    return { code, stdout: stdout(), stderr: stderr(), requests: agent.requests, addr: agent.addr };
  } finally {
    await agent.close();
  }
}

test("members: Consul's columns and alignment, servers first, Type from role, Build before the colon, IPv6 in brackets", async (t) => {
  const r = await run(["members"], { "GET /v1/agent/members": members });
  t.is(r.code, 0);
  t.is(r.stderr, "");
  t.is(r.stdout, [
    "Node  Address        Status  Type     Build  Protocol  DC   Partition  Segment",
    "s1    10.0.0.1:8301  alive   server   0.1.0  2         dc1  default    <all>",
    "s2    10.0.0.2:8301  alive   server   0.1.0  2         dc1  default    <all>",
    "c1    10.0.0.3:8301  failed  client   0.1.0  2         dc1  default    <default>",
    "c2    [::1]:8301     left    client   < 0.3  2         dc1  default    <default>",
    "x     10.0.0.9:8301  alive   unknown                                   ",
    "",
  ].join("\n"));
  t.deepEqual(r.requests.map((q) => `${q.method} ${q.url}`), ["GET /v1/agent/members?segment=_all"]);
});

test("members -detailed: every tag sorted as key=value, with the partition and segment Consul fills in", async (t) => {
  const r = await run(["members", "-detailed", "-status", "alive"], { "GET /v1/agent/members": [members[1], members[4]] });
  t.is(r.code, 0);
  t.is(r.stdout, [
    "Node  Address        Status  Tags",
    "s1    10.0.0.1:8301  alive   ap=default,build=0.1.0:abc123,dc=dc1,port=8300,role=consul,segment=<all>,vsn=2,vsn_max=3,vsn_min=2",
    "s2    10.0.0.2:8301  alive   ap=default,build=0.1.0:abc123,dc=dc1,port=8300,role=consul,segment=<all>,vsn=2,vsn_max=3,vsn_min=2",
    "",
  ].join("\n"));
});

test("members -status filters by a regular expression over the status word; none left exits 2", async (t) => {
  const failed = await run(["members", "-status", "fail|left"], { "GET /v1/agent/members": members });
  t.is(failed.code, 0);
  t.deepEqual(failed.stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0]), ["c1", "c2"]);
  const none = await run(["members", "-status=leaving"], { "GET /v1/agent/members": members });
  t.is(none.code, 2);
  t.is(none.stdout, "");
  const bad = await run(["members", "-status=("], { "GET /v1/agent/members": members });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^Failed to compile status regexp: /);
  t.deepEqual(bad.requests, []);
});

test("members -wan asks for the WAN pool; a null tag map is survived", async (t) => {
  const r = await run(["members", "-wan"], { "GET /v1/agent/members": [member("s1.dc1", "10.0.0.1", 1, null)] });
  t.is(r.code, 0);
  t.deepEqual(r.requests.map((q) => q.url), ["/v1/agent/members?segment=_all&wan=1"]);
  t.regex(r.stdout, /^s1\.dc1 +10\.0\.0\.1:8301 +alive +unknown/m);
});

test("errors as Consul prints them: the agent's status and body, or the dial error, and exit 1", async (t) => {
  const e500 = await run(["members"], { "GET /v1/agent/members": new Reply(500, "No cluster leader") });
  t.is(e500.code, 1);
  t.is(e500.stderr, "Error retrieving members: Unexpected response code: 500 (No cluster leader)\n");
  const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: "127.0.0.1:1" });
  t.is(await runCli(["info"], io), 1);
  t.is(stderr(), 'Error querying agent: Get "http://127.0.0.1:1/v1/agent/self": dial tcp 127.0.0.1:1: connect: connection refused\n');
  const garbage = await run(["members"], { "GET /v1/agent/members": (_q: http.IncomingMessage, res: http.ServerResponse) => res.end("not json") });
  t.is(garbage.code, 1);
  t.is(garbage.stderr, 'Error retrieving members: invalid JSON from /v1/agent/members: "not json"\n');
  const wrongShape = await run(["members"], { "GET /v1/agent/members": [members[0], { Name: 5 }] });
  t.is(wrongShape.code, 1);
  t.is(wrongShape.stderr, 'Error retrieving members: unexpected answer from the agent: {"Name":5}\n');
});

test("the address: -http-addr over PRAETOR_HTTP_ADDR over CONSUL_HTTP_ADDR; the token: -token over the environment", async (t) => {
  const agent = await fakeAgent({ "PUT /v1/agent/reload": true });
  t.teardown(() => agent.close());
  const wrong = "127.0.0.1:1";
  const cases: [string[], Record<string, string>, string | undefined][] = [
    [["reload"], { CONSUL_HTTP_ADDR: agent.addr }, undefined],
    [["reload"], { CONSUL_HTTP_ADDR: wrong, PRAETOR_HTTP_ADDR: `http://${agent.addr}`, CONSUL_HTTP_TOKEN: "env-token" }, "env-token"],
    [["reload", "-http-addr", agent.addr, "-token=flag-token"], { CONSUL_HTTP_ADDR: wrong, PRAETOR_HTTP_ADDR: wrong, CONSUL_HTTP_TOKEN: "env" }, "flag-token"],
    [["reload", `--http-addr=${agent.addr}`], { PRAETOR_HTTP_TOKEN: "p", CONSUL_HTTP_TOKEN: "c" }, "p"],
  ];
  for (const [argv, env, token] of cases) {
    const { io, stdout, stderr } = captureIo(env);
    t.is(await runCli(argv, io), 0, `${argv.join(" ")} ${JSON.stringify(env)}: ${stderr()}`);
    t.is(stdout(), "Configuration reload triggered\n");
    t.is(agent.requests.at(-1)!.token, token);
  }
  t.is(agent.requests.length, cases.length);
});

test("the default address is 127.0.0.1:8500 and a unix socket is refused plainly", async (t) => {
  const { io, stderr } = captureIo({ CONSUL_HTTP_ADDR: "unix:///tmp/consul.sock" });
  t.is(await runCli(["leave"], io), 1);
  t.is(stderr(), "Error connecting to Praetor agent: unix socket addresses (unix:///tmp/consul.sock) are not supported; give host:port\n");
  const { baseUrl } = await import("../../src/cli/http-client.ts");
  t.is(baseUrl("127.0.0.1:8500", false), "http://127.0.0.1:8500");
  t.is(baseUrl("consul.local:8501", true), "https://consul.local:8501");
  t.is(baseUrl("https://10.0.0.1:8501/", false), "https://10.0.0.1:8501");
});

test("join: each address is a PUT; some failing still joins; none joining exits 1", async (t) => {
  const routes = {
    "PUT /v1/agent/join/10.0.0.1:8301": true,
    "PUT /v1/agent/join/bad": new Reply(500, "dial tcp bad: no such host"),
  };
  const some = await run(["join", "-wan", "10.0.0.1:8301", "bad"], routes);
  t.is(some.code, 0);
  t.is(some.stdout, "Successfully joined cluster by contacting 1 nodes.\n");
  t.is(some.stderr, "Error joining address 'bad': Unexpected response code: 500 (dial tcp bad: no such host)\n");
  t.deepEqual(some.requests.map((q) => `${q.method} ${q.url}`), ["PUT /v1/agent/join/10.0.0.1:8301?wan=1", "PUT /v1/agent/join/bad?wan=1"]);
  const none = await run(["join", "bad"], routes);
  t.is(none.code, 1);
  t.regex(none.stderr, /Failed to join any nodes\.\n$/);
  const noArgs = await run(["join"], routes);
  t.is(noArgs.code, 1);
  t.is(noArgs.stderr, "At least one address to join must be specified.\n");
  t.deepEqual(noArgs.requests, []);
});

test("leave and force-leave", async (t) => {
  const leave = await run(["leave"], { "PUT /v1/agent/leave": "" });
  t.is(leave.code, 0);
  t.is(leave.stdout, "Graceful leave complete\n");
  const extra = await run(["leave", "now"], {});
  t.is(extra.code, 1);
  t.is(extra.stderr, "Error found unexpected args: [now]\n");
  const force = await run(["force-leave", "-prune", "node-7"], { "PUT /v1/agent/force-leave/node-7": "" });
  t.is(force.code, 0);
  t.is(force.stdout, "");
  t.deepEqual(force.requests.map((q) => `${q.method} ${q.url}`), ["PUT /v1/agent/force-leave/node-7?prune=1"]);
  const unknown = await run(["force-leave", "ghost"], { "PUT /v1/agent/force-leave/ghost": new Reply(500, "agent: No node found with name 'ghost'") });
  t.is(unknown.code, 1);
  t.is(unknown.stderr, "Error force leaving: Unexpected response code: 500 (agent: No node found with name 'ghost')\n");
  const two = await run(["force-leave", "a", "b"], {});
  t.is(two.code, 1);
  t.is(two.stderr, "A single node name must be specified to force leave.\n");
});

test("info prints /v1/agent/self's Stats, sections and keys sorted", async (t) => {
  const self = { Config: { NodeName: "n1" }, Stats: { raft: { state: "Leader", term: "2" }, agent: { services: "1", checks: "0" }, build: { version: "0.1.0" } } };
  const r = await run(["info"], { "GET /v1/agent/self": self });
  t.is(r.code, 0);
  t.is(r.stdout, "agent:\n\tchecks = 0\n\tservices = 1\nbuild:\n\tversion = 0.1.0\nraft:\n\tstate = Leader\n\tterm = 2\n");
  const noStats = await run(["info"], { "GET /v1/agent/self": { Config: {} } });
  t.is(noStats.code, 1);
  t.regex(noStats.stderr, /^Agent response did not contain 'Stats' key/);
});

test("reload reports Consul's errors", async (t) => {
  const r = await run(["reload"], { "PUT /v1/agent/reload": new Reply(500, "Failed reloading services: bad check") });
  t.is(r.code, 1);
  t.is(r.stderr, "Error reloading: Unexpected response code: 500 (Failed reloading services: bad check)\n");
});

test("monitor streams lines until the agent closes the stream, then says so and exits 1", async (t) => {
  const r = await run(["monitor", "-log-level", "DEBUG"], {
    "GET /v1/agent/monitor": (_q: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("2026-12-02T14:06:06.123Z [DEBUG] agent: one\n2026-12-02T14:06:06.124Z [INFO]  agent: tw");
      setTimeout(() => res.end("o\n"), 20);
    },
  });
  t.is(r.code, 1);
  t.is(r.stdout, "2026-12-02T14:06:06.123Z [DEBUG] agent: one\n2026-12-02T14:06:06.124Z [INFO]  agent: two\n\nRemote side ended the monitor! This usually means that the\nremote side has exited or crashed.\n");
  t.deepEqual(r.requests.map((q) => q.url), ["/v1/agent/monitor?loglevel=debug"]);
});

test("monitor stops cleanly (exit 0) when interrupted", async (t) => {
  const agent = await fakeAgent({
    "GET /v1/agent/monitor": (_q: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200);
      res.write("first line\n");
    },
  });
  t.teardown(() => agent.close());
  const controller = new AbortController();
  const { io, stdout } = captureIo({ CONSUL_HTTP_ADDR: agent.addr }, controller.signal);
  const running = runCli(["monitor"], io);
  while (!stdout().includes("first line")) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  t.is(await running, 0);
  t.is(stdout(), "first line\n");
});

const raftConfig = {
  Servers: [
    { ID: "a1b2", Node: "s1", Address: "10.0.0.1:8300", Leader: true, ProtocolVersion: "3", Voter: true },
    { ID: "c3d4e5", Node: "server-2", Address: "10.0.0.2:8300", Leader: false, ProtocolVersion: "3", Voter: false },
    { ID: "f6", Node: "s3", Address: "10.0.0.3:8300", Leader: false, ProtocolVersion: "", Voter: true },
  ],
  Index: 42,
};

test("operator raft list-peers: Node ID Address State Voter RaftProtocol", async (t) => {
  const r = await run(["operator", "raft", "list-peers", "-stale"], { "GET /v1/operator/raft/configuration": raftConfig });
  t.is(r.code, 0);
  t.is(r.stdout, [
    "Node      ID      Address        State     Voter  RaftProtocol",
    "s1        a1b2    10.0.0.1:8300  leader    true   3",
    "server-2  c3d4e5  10.0.0.2:8300  follower  false  3",
    "s3        f6      10.0.0.3:8300  follower  true   <=1",
    "",
  ].join("\n"));
  t.deepEqual(r.requests.map((q) => q.url), ["/v1/operator/raft/configuration?stale"]);
  const noLeader = await run(["operator", "raft", "list-peers", "-datacenter", "dc2"], { "GET /v1/operator/raft/configuration": new Reply(500, "No cluster leader") });
  t.is(noLeader.code, 1);
  t.is(noLeader.stderr, "Error getting peers: Failed to retrieve raft configuration: Unexpected response code: 500 (No cluster leader)\n");
  t.deepEqual(noLeader.requests.map((q) => q.url), ["/v1/operator/raft/configuration?dc=dc2"]);
});

test("operator raft remove-peer: by -address or -id, exactly one of them", async (t) => {
  const routes = { "DELETE /v1/operator/raft/peer": "" };
  const byAddr = await run(["operator", "raft", "remove-peer", "-address=10.0.0.3:8300"], routes);
  t.is(byAddr.code, 0);
  t.is(byAddr.stdout, 'Removed peer with address "10.0.0.3:8300"\n');
  t.deepEqual(byAddr.requests.map((q) => `${q.method} ${q.url}`), ["DELETE /v1/operator/raft/peer?address=10.0.0.3%3A8300"]);
  const byId = await run(["operator", "raft", "remove-peer", "-id", "f6"], routes);
  t.is(byId.stdout, 'Removed peer with id "f6"\n');
  t.deepEqual(byId.requests.map((q) => q.url), ["/v1/operator/raft/peer?id=f6"]);
  const neither = await run(["operator", "raft", "remove-peer"], routes);
  t.is(neither.code, 1);
  t.is(neither.stderr, "Error removing peer: an address or id is required for the peer to remove\n");
  const both = await run(["operator", "raft", "remove-peer", "-id=x", "-address=y"], routes);
  t.is(both.code, 1);
  t.is(both.stderr, "Error removing peer: cannot give both an address and id\n");
  t.deepEqual([...neither.requests, ...both.requests], []);
});

test("operator raft transfer-leader: POST with the optional -id; a refusal is an error", async (t) => {
  const ok = await run(["operator", "raft", "transfer-leader", "-id", "c3d4e5"], { "POST /v1/operator/raft/transfer-leader": { Success: true } });
  t.is(ok.code, 0);
  t.is(ok.stdout, "Success\n");
  t.deepEqual(ok.requests.map((q) => `${q.method} ${q.url}`), ["POST /v1/operator/raft/transfer-leader?id=c3d4e5"]);
  const refused = await run(["operator", "raft", "transfer-leader"], { "POST /v1/operator/raft/transfer-leader": { Success: false } });
  t.is(refused.code, 1);
  t.is(refused.stderr, "Error transferring leadership: Failed to transfer leadership\n");
  t.deepEqual(refused.requests.map((q) => q.url), ["/v1/operator/raft/transfer-leader"]);
});

test("an unknown flag names itself and points at -h; -h prints the command's usage and exits 0", async (t) => {
  const bad = await run(["members", "-bogus"], {});
  t.is(bad.code, 1);
  t.is(bad.stderr, "flag provided but not defined: -bogus\nRun 'praetor members -h' for the list of options.\n");
  t.deepEqual(bad.requests, []);
  const help = await run(["operator", "raft", "remove-peer", "-h"], {});
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: praetor operator raft remove-peer \[options\]/);
  t.regex(help.stdout, /\n {2}-address=<value>\n/);
  t.regex(help.stdout, /\n {2}-http-addr=<address>\n/);
});
