/**
 * The data CLI (kv, catalog, services, maint, event) against a fake agent: requests sent, Consul's
 * output, messages and exit codes.
 */
import test from "ava";
import * as fs from "node:fs";
import type * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../../src/cli/program.ts";
import { captureIo, fakeAgent, Reply } from "./fake-agent.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const pair = (Key: string, value: string, extra: Record<string, unknown> = {}) =>
  ({ Key, CreateIndex: 5, ModifyIndex: 7, LockIndex: 0, Flags: 0, Value: b64(value), ...extra });

/** Captures request bodies too. */
function recordingRoute(answer: unknown, bodies: string[]) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  };
}

async function run(argv: string[], routes: Record<string, unknown>, stdin?: string) {
  const agent = await fakeAgent(routes);
  try {
    const { io, stdout, stderr } = captureIo({ CONSUL_HTTP_ADDR: agent.addr });
    const withStdin = stdin === undefined ? io : { ...io, readStdin: async () => Buffer.from(stdin) };
    const code = await runCli(argv, withStdin);
    return { code, stdout: stdout(), stderr: stderr(), requests: agent.requests.map((q) => `${q.method} ${q.url}`) };
  } finally {
    await agent.close();
  }
}

test("kv get: the raw value; -detailed as Consul's tab-aligned block; a missing key exits 1", async (t) => {
  const routes = { "GET /v1/kv/app/config": [pair("app/config", "hello world")], "GET /v1/kv/app/locked": [pair("app/locked", "v", { Session: "s-1", Flags: 42 })] };
  const plain = await run(["kv", "get", "/app/config"], routes);
  t.is(plain.code, 0);
  t.is(plain.stdout, "hello world\n");
  t.deepEqual(plain.requests, ["GET /v1/kv/app/config"]);
  const detailed = await run(["kv", "get", "-detailed", "app/locked"], routes);
  t.is(detailed.stdout, "CreateIndex      5\nFlags            42\nKey              app/locked\nLockIndex        0\nModifyIndex      7\nSession          s-1\nValue            v\n");
  const encoded = await run(["kv", "get", "-base64", "app/config"], routes);
  t.is(encoded.stdout, `${b64("hello world")}\n`);
  const missing = await run(["kv", "get", "app/none"], {});
  t.is(missing.code, 1);
  t.is(missing.stderr, "Error! No key exists at: app/none\n");
  const noKey = await run(["kv", "get"], {});
  t.is(noKey.code, 1);
  t.is(noKey.stderr, "Error! Missing KEY argument\n");
  t.deepEqual(noKey.requests, []);
});

test("kv get -recurse and -keys", async (t) => {
  const routes = {
    "GET /v1/kv/app": [pair("app/a", "1"), pair("app/b", "2")],
    "GET /v1/kv/": ["app/", "top"],
  };
  const recurse = await run(["kv", "get", "-recurse", "app"], routes);
  t.is(recurse.stdout, "app/a:1\napp/b:2\n");
  t.deepEqual(recurse.requests, ["GET /v1/kv/app?recurse"]);
  const detailed = await run(["kv", "get", "-recurse", "-detailed", "app"], routes);
  t.is(detailed.stdout.split("\n\n").length, 2);
  t.regex(detailed.stdout, /^CreateIndex {6}5\n[\s\S]*Value {12}1\n\nCreateIndex/);
  const keys = await run(["kv", "get", "-keys", "-separator", ":"], routes);
  t.is(keys.stdout, "app/\ntop\n");
  t.deepEqual(keys.requests, ["GET /v1/kv/?keys&separator=%3A"]);
  const empty = await run(["kv", "get", "-recurse", "nothing"], {});
  t.is(empty.code, 0);
  t.is(empty.stdout, "");
});

test("kv put: inline data, @file, stdin, -base64, -flags; Consul's success line", async (t) => {
  const bodies: string[] = [];
  const routes = { "PUT /v1/kv/k": recordingRoute(true, bodies) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-kv-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, "v.txt"), "from a file");
  const inline = await run(["kv", "put", "-flags", "42", "k", "v1"], routes);
  t.is(inline.stdout, "Success! Data written to: k\n");
  t.deepEqual(inline.requests, ["PUT /v1/kv/k?flags=42"]);
  await run(["kv", "put", "k", `@${path.join(dir, "v.txt")}`], routes);
  await run(["kv", "put", "k", "-"], routes, "from stdin");
  await run(["kv", "put", "-base64", "k", b64("decoded")], routes);
  await run(["kv", "put", "k"], routes);
  t.deepEqual(bodies, ["v1", "from a file", "from stdin", "decoded", ""]);
  const missingFile = await run(["kv", "put", "k", "@/no/such/file"], routes);
  t.is(missingFile.code, 1);
  t.is(missingFile.stderr, "Error! Failed to read file: open /no/such/file: no such file or directory\n");
  const badB64 = await run(["kv", "put", "-base64", "k", "not base64!"], routes);
  t.is(badB64.code, 1);
  t.is(badB64.stderr, "Error! Cannot base 64 decode data: illegal base64 data\n");
});

test("kv put -cas, -acquire and -release: false answers are Consul's errors", async (t) => {
  const no = { "PUT /v1/kv/k": false };
  const cas = await run(["kv", "put", "-cas", "-modify-index=7", "k", "v"], no);
  t.is(cas.code, 1);
  t.is(cas.stderr, "Error! Did not write to k: CAS failed\n");
  t.deepEqual(cas.requests, ["PUT /v1/kv/k?cas=7"]);
  const acquire = await run(["kv", "put", "-acquire", "-session", "s1", "k"], no);
  t.is(acquire.stderr, "Error! Did not acquire lock\n");
  t.deepEqual(acquire.requests, ["PUT /v1/kv/k?acquire=s1"]);
  const released = await run(["kv", "put", "-release", "-session=s1", "k"], { "PUT /v1/kv/k": true });
  t.is(released.stdout, "Success! Lock released on: k\n");
  const locked = await run(["kv", "put", "-acquire", "-session=s1", "k"], { "PUT /v1/kv/k": true });
  t.is(locked.stdout, "Success! Lock acquired on: k\n");
  const noSession = await run(["kv", "put", "-acquire", "k"], no);
  t.is(noSession.stderr, "Error! Missing -session (required with -acquire and -release)\n");
  const noIndex = await run(["kv", "put", "-cas", "k"], no);
  t.is(noIndex.stderr, "Must specify -modify-index with -cas!\n");
  t.deepEqual([...noSession.requests, ...noIndex.requests], []);
  const failed = await run(["kv", "put", "k", "v"], { "PUT /v1/kv/k": new Reply(413, "Value exceeds 524288 byte limit") });
  t.is(failed.stderr, "Error! Failed writing data: Unexpected response code: 413 (Value exceeds 524288 byte limit)\n");
});

test("kv delete: a key, a prefix, or with CAS; the flag combinations Consul refuses", async (t) => {
  const yes = { "DELETE /v1/kv/k": true };
  const one = await run(["kv", "delete", "k"], yes);
  t.is(one.stdout, "Success! Deleted key: k\n");
  const tree = await run(["kv", "delete", "-recurse", "k"], yes);
  t.is(tree.stdout, "Success! Deleted keys with prefix: k\n");
  t.deepEqual(tree.requests, ["DELETE /v1/kv/k?recurse"]);
  const casFail = await run(["kv", "delete", "-cas", "-modify-index", "3", "k"], { "DELETE /v1/kv/k": false });
  t.is(casFail.code, 1);
  t.is(casFail.stderr, "Error! Did not delete key k: CAS failed\n");
  const refusals: [string[], string][] = [
    [["kv", "delete"], "Error! Missing KEY argument"],
    [["kv", "delete", "-cas", "k"], "Must specify -modify-index with -cas!"],
    [["kv", "delete", "-modify-index=3", "k"], "Cannot specify -modify-index without -cas!"],
    [["kv", "delete", "-recurse", "-cas", "-modify-index=3", "k"], "Cannot specify both -cas and -recurse!"],
    [["kv", "delete", "a", "b"], "Too many arguments (expected 1, got 2)"],
  ];
  for (const [argv, message] of refusals) {
    const r = await run(argv, yes);
    t.is(r.code, 1, argv.join(" "));
    t.is(r.stderr, `${message}\n`);
    t.deepEqual(r.requests, []);
  }
});

test("kv export writes Go's tab-indented JSON with base64 values; import puts each entry back under -prefix", async (t) => {
  const exported = await run(["kv", "export", "app"], { "GET /v1/kv/app": [pair("app/a", "<1>"), pair("app/b", "", { Flags: 3, Value: null })] });
  t.is(exported.stdout, `[\n\t{\n\t\t"key": "app/a",\n\t\t"flags": 0,\n\t\t"value": "${b64("<1>")}"\n\t},\n\t{\n\t\t"key": "app/b",\n\t\t"flags": 3,\n\t\t"value": ""\n\t}\n]\n`);
  const bodies: string[] = [];
  const routes = { "PUT /v1/kv/copy/app/a": recordingRoute(true, bodies), "PUT /v1/kv/copy/app/b": recordingRoute(true, bodies) };
  const imported = await run(["kv", "import", "-prefix", "copy/", "-"], routes, exported.stdout);
  t.is(imported.code, 0);
  t.is(imported.stdout, "Imported: copy/app/a\nImported: copy/app/b\n");
  t.deepEqual(imported.requests, ["PUT /v1/kv/copy/app/a?flags=0", "PUT /v1/kv/copy/app/b?flags=3"]);
  t.deepEqual(bodies, ["<1>", ""]);
  const bad = await run(["kv", "import", "{not json"], routes);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^Cannot unmarshal data: /);
  const badValue = await run(["kv", "import", '[{"key":"x","flags":0,"value":"%%%"}]'], routes);
  t.is(badValue.stderr, "Error base 64 decoding value for key x: illegal base64 data\n");
  const empty = await run(["kv", "export"], {});
  t.is(empty.stdout, "[]\n");
});

const nodes = [
  { ID: "1b662d97-8b5c-3cc2-0ac0-96f55ad423b5", Node: "worker-01", Address: "10.4.5.31", Datacenter: "dc1", TaggedAddresses: { wan: "1.2.3.4", lan: "10.4.5.31" }, Meta: { rack: "r1" } },
  { ID: "", Node: "w2", Address: "10.4.5.32", Datacenter: "dc1", TaggedAddresses: null, Meta: null },
];

test("catalog nodes: Node ID Address DC with the ID's first 8 characters; -detailed adds addresses and meta", async (t) => {
  const r = await run(["catalog", "nodes", "-node-meta", "rack=r1", "-node-meta", "os=linux"], { "GET /v1/catalog/nodes": nodes });
  t.is(r.stdout, "Node       ID        Address    DC\nworker-01  1b662d97  10.4.5.31  dc1\nw2                   10.4.5.32  dc1\n");
  t.deepEqual(r.requests, ["GET /v1/catalog/nodes?node-meta=rack%3Ar1&node-meta=os%3Alinux"]);
  const detailed = await run(["catalog", "nodes", "-detailed"], { "GET /v1/catalog/nodes": nodes });
  t.is(detailed.stdout, [
    // TaggedAddresses is as wide as its widest cell (26) plus the two-space glue; w2's empty cells are padded too.
    `Node       ID                                    Address    DC   ${"TaggedAddresses".padEnd(26)}  Meta`,
    "worker-01  1b662d97-8b5c-3cc2-0ac0-96f55ad423b5  10.4.5.31  dc1  lan=10.4.5.31, wan=1.2.3.4  rack=r1",
    `w2                                               10.4.5.32  dc1  ${"".padEnd(26)}  `,
    "",
  ].join("\n"));
  const byService = await run(["catalog", "nodes", "-service", "web"], {
    "GET /v1/catalog/service/web": [
      { ID: nodes[0]!.ID, Node: "worker-01", Address: "10.4.5.31", Datacenter: "dc1", TaggedAddresses: null, NodeMeta: null, ServiceID: "web-1" },
      { ID: nodes[0]!.ID, Node: "worker-01", Address: "10.4.5.31", Datacenter: "dc1", TaggedAddresses: null, NodeMeta: null, ServiceID: "web-2" },
    ],
  });
  t.is(byService.stdout, "Node       ID        Address    DC\nworker-01  1b662d97  10.4.5.31  dc1\n");
  const none = await run(["catalog", "nodes"], { "GET /v1/catalog/nodes": [] });
  t.is(none.code, 0);
  t.is(none.stderr, "No nodes match the given query - try expanding your search.\n");
});

test("catalog services (sorted, -tags tab-aligned) and datacenters", async (t) => {
  const routes = { "GET /v1/catalog/services": { web: ["v2", "v1"], consul: [], "redis-cache": null }, "GET /v1/catalog/datacenters": ["dc1", "dc2"] };
  t.is((await run(["catalog", "services"], routes)).stdout, "consul\nredis-cache\nweb\n");
  t.is((await run(["catalog", "services", "-tags"], routes)).stdout, "consul           \nredis-cache      \nweb              v1,v2\n");
  const byNode = await run(["catalog", "services", "-node", "n1"], { "GET /v1/catalog/node/n1": { Node: {}, Services: { a: { Service: "web", Tags: ["x"] }, b: { Service: "db", Tags: null } } } });
  t.is(byNode.stdout, "db\nweb\n");
  t.is((await run(["catalog", "datacenters"], routes)).stdout, "dc1\ndc2\n");
});

test("services register from flags and from a file; deregister by -id or by the file's IDs", async (t) => {
  const bodies: string[] = [];
  const routes = { "PUT /v1/agent/service/register": recordingRoute(null, bodies), "PUT /v1/agent/service/deregister/web-1": "", "PUT /v1/agent/service/deregister/db": "" };
  const flags = await run(["services", "register", "-name", "web", "-id", "web-1", "-port", "80", "-tag", "a", "-tag", "b", "-meta", "env=prod"], routes);
  t.is(flags.code, 0);
  t.is(flags.stdout, "Registered service: web\n");
  t.deepEqual(JSON.parse(bodies[0]!), { Name: "web", ID: "web-1", Address: "", Port: 80, Tags: ["a", "b"], Meta: { env: "prod" } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-svc-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "svc.hcl");
  fs.writeFileSync(file, 'service { id = "web-1" name = "web" port = 8080 }\nservice { name = "db" check { tcp = "localhost:5432" interval = "5s" } }\n');
  const fromFile = await run(["services", "register", file], routes);
  t.is(fromFile.stdout, "Registered service: web\nRegistered service: db\n");
  t.like(JSON.parse(bodies[1]!), { ID: "web-1", Name: "web", Port: 8080 });
  t.like(JSON.parse(bodies[2]!), { Name: "db", Checks: [{ tcp: "localhost:5432", interval: "5s" }] });
  t.false("source" in JSON.parse(bodies[2]!));
  const byFile = await run(["services", "deregister", file], routes);
  t.is(byFile.stdout, "Deregistered service: web-1\nDeregistered service: db\n");
  const byId = await run(["services", "deregister", "-id", "web-1"], routes);
  t.deepEqual(byId.requests, ["PUT /v1/agent/service/deregister/web-1"]);
  t.is((await run(["services", "register"], routes)).stderr, "Error: Service name or at least one file must be specified\n");
  t.is((await run(["services", "register", "-meta", "novalue", "-name", "x"], routes)).stderr, 'Error parsing -meta "novalue": want key=value\n');
  t.is((await run(["services", "register", path.join(dir, "none.json")], routes)).stderr, `Error reading ${path.join(dir, "none.json")}: no such file or directory\n`);
});

test("maint: enable and disable for the node or a service, and the listing of what is in maintenance", async (t) => {
  const routes = {
    "PUT /v1/agent/maintenance": "",
    "PUT /v1/agent/service/maintenance/redis": "",
    "GET /v1/agent/checks": {
      _node_maintenance: { CheckID: "_node_maintenance", ServiceID: "", Notes: "patching" },
      "_service_maintenance:redis": { CheckID: "_service_maintenance:redis", ServiceID: "redis", Notes: "resharding" },
      serfHealth: { CheckID: "serfHealth", ServiceID: "", Notes: "" },
    },
    "GET /v1/agent/self": { Config: { NodeName: "n1" } },
  };
  const node = await run(["maint", "-enable", "-reason", "patching"], routes);
  t.is(node.stdout, "Node maintenance is now enabled\n");
  t.deepEqual(node.requests, ["PUT /v1/agent/maintenance?enable=true&reason=patching"]);
  const svc = await run(["maint", "-disable", "-service", "redis"], routes);
  t.is(svc.stdout, 'Service maintenance is now disabled for "redis"\n');
  t.deepEqual(svc.requests, ["PUT /v1/agent/service/maintenance/redis?enable=false"]);
  const list = await run(["maint"], routes);
  t.is(list.stdout, "Node:\n  Name:   n1\n  Reason: patching\n\nService:\n  ID:     redis\n  Reason: resharding\n\n");
  t.is((await run(["maint", "-enable", "-disable"], routes)).stderr, "Only one of -enable or -disable may be provided\n");
  t.is((await run(["maint", "-reason", "x"], routes)).stderr, "Reason may only be provided with -enable\n");
  t.is((await run(["maint", "-service", "redis"], routes)).stderr, "Service requires either -enable or -disable\n");
});

test("event: fires with filters and payload and prints the ID; bad filters are refused before any request", async (t) => {
  const bodies: string[] = [];
  const routes = { "GET /v1/agent/self": {}, "PUT /v1/event/fire/deploy": recordingRoute({ ID: "b54fe110-7af5-cafc-d1fb-afc8ba432b1c", Name: "deploy" }, bodies) };
  const r = await run(["event", "-name", "deploy", "-service", "web", "-tag", "v1", "build-42"], routes);
  t.is(r.code, 0);
  t.is(r.stdout, "Event ID: b54fe110-7af5-cafc-d1fb-afc8ba432b1c\n");
  t.deepEqual(r.requests, ["GET /v1/agent/self", "PUT /v1/event/fire/deploy?service=web&tag=v1"]);
  t.deepEqual(bodies, ["build-42"]);
  const refusals: [string[], string][] = [
    [["event"], "Event name must be specified"],
    [["event", "-name", "x", "-tag", "v1"], "Cannot provide tag filter without service filter."],
    [["event", "-name", "x", "-node", "("], "Failed to compile node filter regexp: Invalid regular expression: /(/: Unterminated group"],
    [["event", "-name", "x", "a", "b"], "Too many command line arguments."],
  ];
  for (const [argv, message] of refusals) {
    const bad = await run(argv, routes);
    t.is(bad.code, 1);
    t.is(bad.stderr, `${message}\n`);
    t.deepEqual(bad.requests, []);
  }
});

test("snapshot save writes the server's bytes atomically and reports the index; restore sends them back", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "praetor-snap-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "backup.snap");
  const archive = Buffer.from([0x1f, 0x8b, 0, 1, 2, 255]);
  const saved = await run(["snapshot", "save", file], {
    "GET /v1/snapshot": (_q: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200, { "x-consul-index": "42" }).end(archive),
  });
  t.is(saved.code, 0);
  t.is(saved.stdout, "Saved and verified snapshot to index 42\n");
  t.deepEqual(fs.readFileSync(file), archive);
  t.deepEqual(fs.readdirSync(dir), ["backup.snap"]);
  const failed = await run(["snapshot", "save", path.join(dir, "other.snap")], { "GET /v1/snapshot": new Reply(500, "No cluster leader") });
  t.is(failed.code, 1);
  t.is(failed.stderr, "Error saving snapshot: Unexpected response code: 500 (No cluster leader)\n");
  t.deepEqual(fs.readdirSync(dir), ["backup.snap"]);
  const bodies: string[] = [];
  const restored = await run(["snapshot", "restore", file], { "PUT /v1/snapshot": recordingRoute(null, bodies) });
  t.is(restored.stdout, "Restored snapshot\n");
  t.is(bodies[0], archive.toString("utf8"));
  const missing = await run(["snapshot", "restore", path.join(dir, "none.snap")], {});
  t.is(missing.stderr, `Error opening snapshot file: open ${path.join(dir, "none.snap")}: no such file or directory\n`);
});

test("rtt: Serf's distance between two nodes' coordinates; the agent's own node by default", async (t) => {
  const coord = (vec: number[], height: number, adjustment = 0) => ({ Vec: vec, Error: 0.2, Adjustment: adjustment, Height: height });
  const routes = {
    "GET /v1/agent/self": { Config: { NodeName: "me", Datacenter: "dc1" } },
    "GET /v1/coordinate/nodes": [
      { Node: "me", Segment: "", Coord: coord([0, 0, 0], 0.0001) },
      { Node: "far", Segment: "", Coord: coord([0.003, 0.004, 0], 0.0001) },
      { Node: "odd", Segment: "", Coord: coord([0, 0, 0], 0.0001, -0.01) },
    ],
  };
  const r = await run(["rtt", "far"], routes);
  t.is(r.code, 0);
  // |(0.003, 0.004, 0)| = 0.005 s, plus both heights (0.0002 s) = 5.2 ms.
  t.is(r.stdout, "Estimated far <-> me rtt: 5.200 ms (using LAN coordinates)\n");
  // An adjustment that would make the distance negative is ignored.
  t.is((await run(["rtt", "odd", "me"], routes)).stdout, "Estimated odd <-> me rtt: 0.200 ms (using LAN coordinates)\n");
  const missing = await run(["rtt", "ghost", "me"], routes);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'Error: Could not find a coordinate for node "ghost"\n');
  t.is((await run(["rtt"], routes)).stderr, "One or two node names must be specified\n");
  const wan = await run(["rtt", "-wan", "s1.dc2"], { ...routes, "GET /v1/coordinate/datacenters": [{ Datacenter: "dc1", AreaID: "wan", Coordinates: [{ Node: "me.dc1", Coord: coord([0, 0], 0) }] }, { Datacenter: "dc2", AreaID: "wan", Coordinates: [{ Node: "s1.dc2", Coord: coord([0.01, 0], 0) }] }] });
  t.is(wan.stdout, "Estimated s1.dc2 <-> me.dc1 rtt: 10.000 ms (using WAN coordinates)\n");
});
