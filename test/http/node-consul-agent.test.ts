/**
 * node-consul 2.0.1 (the npm `consul` package), unmodified, against a real `-dev` agent started
 * in-process on its own loopback address: KV, watches, sessions and locks, txn, agent services
 * and TTL checks, health and catalog, events, status, and an error. The answers are what the
 * client makes of ours, so a header or status Consul sends and we do not shows up here.
 *
 * node-consul resolves a `false` body (a refused CAS or acquire) to `undefined`: papi's pipeline
 * drops a falsy value (`!value && maybeValue`), whatever the server sends, Consul included. The
 * `false` itself is checked through the client's includeResponse context, which returns it.
 */
import test, { type ExecutionContext } from "ava";
import { EventEmitter } from "node:events";
import Consul from "consul";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent, type RunningAgent } from "../../src/agent/run.ts";

const host = "127.0.0.121";

let running: RunningAgent | null = null;
let port = 0;
test.before(async () => {
  const { config } = loadConfig(["-dev", "-node", "nc1", "-bind", host, "-client", host, "-dns-port", "-1", "-http-port", "0"]);
  running = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  port = running.httpPorts[0]!;
  const deadline = Date.now() + 30_000;
  while ((await (await fetch(`http://${host}:${port}/v1/status/leader`)).text()).length <= 2) {
    if (Date.now() > deadline) throw new Error("no leader within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
});
test.after.always(async () => {
  await running?.stop();
});

// node-consul's typings describe less than the client returns (Watch events, includeResponse): the tests read it loosely.
type Loose = any;
const consul = (): Loose => new Consul({ host, port });

/** The client's context that makes a call resolve to `[response, body]`. */
function withResponse(): EventEmitter & { includeResponse: boolean } {
  return Object.assign(new EventEmitter(), { includeResponse: true });
}

async function rejection(t: ExecutionContext, promise: Promise<unknown>): Promise<Loose> {
  const error = await t.throwsAsync(promise);
  return error as Loose;
}

test.serial("kv: flags, CAS true and false, keys, recurse, delete", async (t) => {
  const c = consul();
  t.is(await c.kv.set({ key: "nc/app/a", value: "one", flags: 42 }), true);
  t.is(await c.kv.set("nc/app/b", "two"), true);
  t.is(await c.kv.set("nc/other", "three"), true);
  const a = await c.kv.get("nc/app/a");
  t.like(a, { Key: "nc/app/a", Value: "one", Flags: 42 });

  t.is(await c.kv.set({ key: "nc/app/a", value: "won", cas: a.ModifyIndex }), true);
  t.is(await c.kv.set({ key: "nc/app/a", value: "lost", cas: a.ModifyIndex }), undefined);
  const [res, body] = await c.kv.set({ key: "nc/app/a", value: "lost", cas: a.ModifyIndex, ctx: withResponse() });
  t.is(res.statusCode, 200);
  t.is(res.headers["content-type"].split(";")[0], "application/json");
  t.is(body, false);
  t.is((await c.kv.get("nc/app/a")).Value, "won");
  t.is(await c.kv.set({ key: "nc/new", value: "x", cas: 0 }), true, "cas=0 creates a missing key");
  t.is(await c.kv.set({ key: "nc/new", value: "y", cas: 0 }), undefined, "cas=0 refuses an existing one");

  t.deepEqual(await c.kv.keys("nc/"), ["nc/app/a", "nc/app/b", "nc/new", "nc/other"]);
  t.deepEqual(await c.kv.keys({ key: "nc/", separator: "/" }), ["nc/app/", "nc/new", "nc/other"]);
  const all = await c.kv.get({ key: "nc/app/", recurse: true });
  t.deepEqual(all.map((e: Loose) => [e.Key, e.Value]), [["nc/app/a", "won"], ["nc/app/b", "two"]]);
  t.is(await c.kv.get("nc/missing"), undefined);

  t.is(await c.kv.del({ key: "nc/app/", recurse: true }), true);
  t.deepEqual(await c.kv.keys("nc/"), ["nc/new", "nc/other"]);
});

test.serial("kv: a blocking get returns when the key changes, with a higher index", async (t) => {
  const c = consul();
  await c.kv.set("nc/block", "before");
  const [res] = await c.kv.get({ key: "nc/block", ctx: withResponse() });
  const index = res.headers["x-consul-index"];
  const startedMs = Date.now();
  const waiting = c.kv.get({ key: "nc/block", index, wait: "10s", ctx: withResponse() });
  await new Promise((r) => setTimeout(r, 200));
  await c.kv.set("nc/block", "after");
  const [woken, entry] = await waiting;
  t.true(Date.now() - startedMs < 5_000, "woken by the write, not the wait");
  t.true(BigInt(woken.headers["x-consul-index"]) > BigInt(index));
  t.is(entry.Value, "after");
});

test.serial("watch: sees the initial miss, each value and the delete", async (t) => {
  const c = consul();
  const watch = c.watch({ method: c.kv.get, options: { key: "nc/watched" } });
  const values: (string | undefined)[] = [];
  const errors: Error[] = [];
  watch.on("change", (data: Loose) => values.push(data?.Value));
  watch.on("error", (error: Error) => errors.push(error));
  const until = async (n: number): Promise<void> => {
    for (const deadline = Date.now() + 10_000; values.length < n && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
  };
  try {
    await until(1);
    await c.kv.set("nc/watched", "1");
    await until(2);
    await c.kv.set("nc/watched", "2");
    await until(3);
    await c.kv.del("nc/watched");
    await until(4);
  } finally {
    watch.end();
  }
  t.deepEqual(values, [undefined, "1", "2", undefined]);
  t.deepEqual(errors, []);
});

test.serial("sessions and locks: acquire true, a second holder refused, release, info/node/list/renew/destroy", async (t) => {
  const c = consul();
  const first = await c.session.create({ name: "nc-lock", ttl: "30s" });
  const second = await c.session.create();
  t.regex(first.ID, /^[0-9a-f-]{36}$/);

  t.is(await c.kv.set({ key: "nc/lock", value: "held", acquire: first.ID }), true);
  t.is(await c.kv.set({ key: "nc/lock", value: "mine", acquire: second.ID }), undefined);
  const [, refused] = await c.kv.set({ key: "nc/lock", value: "mine", acquire: second.ID, ctx: withResponse() });
  t.is(refused, false);
  t.like(await c.kv.get("nc/lock"), { Value: "held", Session: first.ID, LockIndex: 1 });
  t.is(await c.kv.set({ key: "nc/lock", value: "free", release: first.ID }), true);
  t.is((await c.kv.get("nc/lock")).Session, undefined);

  t.like(await c.session.info(first.ID), { ID: first.ID, Name: "nc-lock", TTL: "30s", Node: "nc1" });
  t.true((await c.session.node("nc1")).some((s: Loose) => s.ID === second.ID));
  t.true((await c.session.list()).some((s: Loose) => s.ID === first.ID));
  const renewed = await c.session.renew(first.ID);
  t.is(renewed[0].ID, first.ID);
  const [destroyed] = await c.session.destroy({ id: first.ID, ctx: withResponse() });
  t.is(destroyed.statusCode, 200);
  await c.session.destroy(second.ID);
  t.is(await c.session.info(first.ID), undefined);
  t.false((await c.session.list()).some((s: Loose) => s.ID === second.ID));
});

test.serial("txn: a committed transaction, and a rolled-back one answered 409 with its errors", async (t) => {
  const c = consul();
  const done = await c.transaction.create([
    { KV: { Verb: "set", Key: "nc/txn/a", Value: Buffer.from("1").toString("base64") } },
    { KV: { Verb: "set", Key: "nc/txn/b", Value: Buffer.from("2").toString("base64") } },
  ]);
  t.deepEqual(done.Results.map((r: Loose) => r.KV.Key), ["nc/txn/a", "nc/txn/b"]);
  t.is(done.Errors, null);

  const error = await rejection(t, c.transaction.create([
    { KV: { Verb: "set", Key: "nc/txn/a", Value: Buffer.from("3").toString("base64") } },
    { KV: { Verb: "cas", Key: "nc/txn/b", Index: 1, Value: Buffer.from("4").toString("base64") } },
  ]));
  t.is(error.statusCode, 409);
  t.is(error.response.body.Results, null);
  t.is(error.response.body.Errors[0].OpIndex, 1);
  t.is((await c.kv.get("nc/txn/a")).Value, "1", "the first op was rolled back");
});

test.serial("agent services and TTL checks, seen through health and catalog", async (t) => {
  const c = consul();
  await c.agent.service.register({ name: "web", id: "web-1", port: 8080, tags: ["v1"], check: { ttl: "30s", checkid: "web-ttl" } });
  t.like((await c.agent.service.list())["web-1"], { Service: "web", Port: 8080, Tags: ["v1"] });
  t.is((await c.agent.check.list())["web-ttl"].Status, "critical");

  await c.agent.check.pass({ id: "web-ttl", note: "fine" });
  t.like((await c.agent.check.list())["web-ttl"], { Status: "passing", Output: "fine" });
  await c.agent.check.warn("web-ttl");
  t.is((await c.agent.check.list())["web-ttl"].Status, "warning");
  await c.agent.check.fail("web-ttl");
  t.is((await c.agent.check.list())["web-ttl"].Status, "critical");
  await c.agent.check.pass("web-ttl");

  const deadline = Date.now() + 10_000;
  let healthy: Loose[] = [];
  while (healthy.length === 0 && Date.now() < deadline) {
    healthy = await c.health.service({ service: "web", passing: true });
    if (healthy.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(healthy.length, 1, "the service reached the catalog, passing");
  t.like(healthy[0], { Node: { Node: "nc1", Address: host }, Service: { ID: "web-1", Port: 8080 } });
  t.true((await c.health.checks("web")).some((check: Loose) => check.CheckID === "web-ttl" && check.Status === "passing"));
  t.true((await c.health.node("nc1")).some((check: Loose) => check.CheckID === "serfHealth"));
  t.true((await c.health.state("passing")).some((check: Loose) => check.CheckID === "web-ttl"));
  t.like((await c.catalog.service.nodes("web"))[0], { Node: "nc1", ServiceID: "web-1", ServicePort: 8080 });
  t.true("web" in (await c.catalog.service.list()));
  t.like((await c.catalog.node.list())[0], { Node: "nc1", Address: host });
  t.like((await c.catalog.node.services("nc1")).Services["web-1"], { Service: "web" });
  t.deepEqual(await c.catalog.datacenters(), ["dc1"]);

  await c.agent.service.deregister("web-1");
  t.false("web-1" in (await c.agent.service.list()));
  t.false("web-ttl" in (await c.agent.check.list()));
});

test.serial("events fire and list; status leader and peers; agent self and members", async (t) => {
  const c = consul();
  const fired = await c.event.fire("nc-deploy", "v2");
  t.is(fired.Name, "nc-deploy");
  const events = await c.event.list("nc-deploy");
  t.true(events.some((e: Loose) => e.ID === fired.ID && e.Payload === "v2"));
  t.is(await c.status.leader(), `${host}:8300`);
  t.deepEqual(await c.status.peers(), [`${host}:8300`]);
  t.is((await c.agent.self()).Config.NodeName, "nc1");
  t.like((await c.agent.members())[0], { Name: "nc1", Addr: host });
});

test.serial("a 400 surfaces as node-consul's error with Consul's message", async (t) => {
  const c = consul();
  const error = await rejection(t, c.kv.set({ key: "nc/bad", value: "x", cas: 1, acquire: "abc" }));
  t.is(error.statusCode, 400);
  t.regex(error.message, /^Conflicting flags: /);
  const missing = await rejection(t, c.agent.check.pass("no-such-check"));
  t.true(missing.statusCode >= 400 && missing.statusCode < 500, `status ${missing.statusCode}`);
});

test.serial("prepared queries: create, list, get, update, execute, explain, destroy; a missing one is a 404", async (t) => {
  const c = consul();
  await c.agent.service.register({ name: "nc-pq", id: "nc-pq-1", port: 9000, tags: ["blue"] });
  const { ID: id } = await c.query.create({ name: "nc-pq", service: { service: "nc-pq", onlypassing: true, tags: ["blue"] }, dns: { ttl: "9s" } });
  t.regex(id, /^[0-9a-f-]{36}$/);
  t.true((await c.query.list()).some((q: Loose) => q.ID === id && q.Name === "nc-pq"));
  t.like(await c.query.get(id), { ID: id, Service: { Service: "nc-pq", OnlyPassing: true, Tags: ["blue"] }, DNS: { TTL: "9s" } });
  // The agent's anti-entropy registers the service in the catalog shortly after the local register.
  let executed: Loose = null;
  for (let tries = 0; tries < 100 && (executed === null || executed.Nodes.length === 0); tries++) {
    executed = await c.query.execute("nc-pq");
    if (executed.Nodes.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  t.like(executed, { Service: "nc-pq", DNS: { TTL: "9s" }, Datacenter: "dc1" });
  t.deepEqual(executed.Nodes.map((n: Loose) => n.Service.ID), ["nc-pq-1"]);
  await c.query.update({ query: id, name: "nc-pq", service: { service: "nc-pq", tags: ["green"] } });
  t.deepEqual((await c.query.execute(id)).Nodes, []);
  // node-consul's explain takes the first element of a list, but Consul answers an object
  // ({Query, ...}), so the client resolves to undefined against Consul too; the raw body is Consul's.
  t.is(await c.query.explain(id), undefined);
  const [res] = await c.query.explain({ query: id, ctx: withResponse() });
  t.like(res.body, { Query: { ID: id, Service: { Tags: ["green"] } } });
  await c.query.destroy(id);
  const missing = await rejection(t, c.query.get(id));
  t.is(missing.statusCode, 404);
  t.is((await rejection(t, c.query.execute("nc-pq"))).statusCode, 404);
  await c.agent.service.deregister("nc-pq-1");
});
