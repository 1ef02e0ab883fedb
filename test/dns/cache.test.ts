/**
 * Cached answers: on a server (reads are local) and on a client with `use_cache`, a repeated
 * question reads nothing and is answered on the fast path, and a change in the catalog reaches
 * the next answer through the blocking read that keeps the entry fresh. Without use_cache a client
 * reads every time; a backend that does not block is not spun on; `cache_max_age` bounds an
 * entry's age. Last, real agents: a client agent with use_cache (127.0.0.82) beside a server (127.0.0.81).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import dnsPacket from "dns-packet";
import type { AgentBackend, ReadOptions } from "../../src/agent/api.ts";
import { loadConfig } from "../../src/agent/config/index.ts";
import { createLogger } from "../../src/agent/log.ts";
import { startAgent } from "../../src/agent/run.ts";
import { defaultDnsConfig, type DnsConfig } from "../../src/dns/config.ts";
import { createDnsHandler, type DnsHandlerWithStats } from "../../src/dns/handler.ts";
import { startDevAgent } from "../http/harness.ts";
import { CatalogBackend, queryPacket, udpExchange } from "./harness.ts";

function webBackend(): CatalogBackend {
  const backend = new CatalogBackend("dc1", "server-1");
  for (let i = 1; i <= 3; i++) {
    backend.node(`web-${i}`, `10.0.1.${i}`);
    backend.service(`web-${i}`, { ID: "web", Service: "web", Port: 8080 });
  }
  return backend;
}

/** Reads that went to the backend for an answer (blocking refreshes carry an index). */
const plainReads = (backend: CatalogBackend) => backend.log.filter((entry) => (entry.options.index ?? 0) === 0).length;

async function ask(handler: DnsHandlerWithStats, name: string, type: dnsPacket.RecordType = "A"): Promise<{ fast: boolean; data: string[] }> {
  const query = queryPacket(name, type);
  const now = handler.answerNow!(query, "udp");
  const answer = now ?? (await handler(query, "udp"));
  return { fast: now !== null, data: dnsPacket.decode(answer!).answers!.map((record) => JSON.stringify((record as { data?: unknown }).data)).sort() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function handlerOver(backend: AgentBackend, config: Partial<DnsConfig>, readsAreLocal: boolean, nowMs?: () => number): DnsHandlerWithStats {
  return createDnsHandler(backend, { ...defaultDnsConfig(), ...config }, { readsAreLocal, ...(nowMs === undefined ? {} : { nowMs }) });
}

for (const [label, config, local] of [["a server (reads are local)", {}, true], ["a client with use_cache", { useCache: true }, false]] as const) {
  test(`${label}: a repeated question reads nothing; a deregistration reaches the next answer`, async (t) => {
    const backend = webBackend();
    const handler = handlerOver(backend.asBackend(), config, local);
    t.teardown(() => handler.close());
    const first = await ask(handler, "web.service.consul");
    t.false(first.fast);
    t.deepEqual(first.data, ['"10.0.1.1"', '"10.0.1.2"', '"10.0.1.3"']);
    t.is(plainReads(backend), 1);
    for (let i = 0; i < 20; i++) {
      // The first SRV question builds its template; every other repeat is answered at once.
      const again = await ask(handler, i % 2 === 0 ? "web.service.consul" : "WEB.service.consul", i < 10 ? "A" : "SRV");
      t.true(again.fast || i === 1 || i === 10 || i === 11, `question ${i} missed the fast path`);
    }
    t.is(plainReads(backend), 1, "the repeats read the catalog");
    t.is(backend.blocked, 1, "one blocking read keeps the entry fresh");

    backend.deregister("web-2", "web");
    await settle();
    const after = await ask(handler, "web.service.consul");
    t.deepEqual(after.data, ['"10.0.1.1"', '"10.0.1.3"']);
    t.is(plainReads(backend), 1, "the blocking read brought the change; nothing was read again");
    t.true((await ask(handler, "web.service.consul")).fast);

    handler.close();
    await settle();
    t.is(backend.blocked, 0, "close() ends the blocking read");
  });
}

test("a client without use_cache reads on every question (Consul's default)", async (t) => {
  const backend = webBackend();
  const handler = handlerOver(backend.asBackend(), {}, false);
  for (let i = 0; i < 5; i++) t.false((await ask(handler, "web.service.consul")).fast);
  t.is(plainReads(backend), 5);
  t.is(backend.blocked, 0);
  t.is(handler.cache, null);
});

test("a server with allow_stale off does not cache: each question reads with default consistency", async (t) => {
  const backend = webBackend();
  const handler = handlerOver(backend.asBackend(), { allowStale: false }, true);
  for (let i = 0; i < 3; i++) await ask(handler, "web.service.consul");
  t.is(plainReads(backend), 3);
});

test("a backend that answers blocking reads at once is not spun on: the entry is dropped and read again when asked", async (t) => {
  const backend = webBackend();
  const inner = backend.asBackend();
  let calls = 0;
  const eager = new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== "query") return Reflect.get(target, property, receiver);
      return (query: never, options: ReadOptions) => {
        calls++;
        return inner.query(query, { ...options, index: 0 });
      };
    },
  });
  const handler = handlerOver(eager, {}, true);
  t.teardown(() => handler.close());
  for (let i = 0; i < 10; i++) {
    await ask(handler, "web.service.consul");
    await settle();
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(calls <= 20, `${calls} backend calls for 10 questions`);
  t.is(handler.cache!.size, 0);
});

test("cache_max_age: an entry older than it is read again", async (t) => {
  const backend = webBackend();
  let nowMs = 1_000_000;
  const handler = handlerOver(backend.asBackend(), { useCache: true, cacheMaxAgeMs: 5_000 }, false, () => nowMs);
  t.teardown(() => handler.close());
  await ask(handler, "web.service.consul");
  await ask(handler, "web.service.consul");
  t.is(plainReads(backend), 1);
  nowMs += 5_001;
  t.false((await ask(handler, "web.service.consul")).fast);
  t.is(plainReads(backend), 2);
  t.true((await ask(handler, "web.service.consul")).fast);
});

test("real agents: a client agent with use_cache answers a repeat without a server round trip and follows a deregistration", async (t) => {
  t.timeout(180_000);
  const server = await startDevAgent(t, "127.0.0.81", ["-node", "cache-server"]);
  const dir = mkdtempSync(join(tmpdir(), "praetor-dns-cache-"));
  writeFileSync(join(dir, "dns.json"), JSON.stringify({ dns_config: { use_cache: true } }));
  const { config } = loadConfig(["-bind", "127.0.0.82", "-client", "127.0.0.82", "-data-dir", join(dir, "data"), "-node", "cache-client",
    "-retry-join", "127.0.0.81", "-dns-port", "0", "-http-port", "0", "-config-file", join(dir, "dns.json")]);
  const client = await startAgent(config, createLogger({ level: "warn", write: () => {} }));
  t.teardown(() => client.stop());
  // Every read the client's DNS makes goes through agent.query, which a client forwards to a server.
  // Only reads of the "api" service count: anti-entropy reads the client's own node through the
  // same method, on its own timer, and would be miscounted as DNS round trips.
  const agent = client.agent;
  const original = agent.query.bind(agent);
  const forwarded: ReadOptions[] = [];
  agent.query = ((query: { kind: string; name?: string }, options: ReadOptions) => {
    if (query.name === "api") forwarded.push(options);
    return original(query as never, options);
  }) as typeof agent.query;
  const roundTrips = () => forwarded.filter((options) => (options.index ?? 0) === 0).length;

  for (const i of [1, 2]) {
    const res = await server.put("/v1/catalog/register", { Node: `ext-${i}`, Address: `10.9.0.${i}`, Service: { ID: "api", Service: "api", Port: 80 } });
    t.is(res.status, 200, res.text);
  }
  const dnsPort = client.dnsPorts[0]!;
  const addresses = async (): Promise<string[] | null> => {
    const answer = await udpExchange(dnsPort, queryPacket("api.service.consul", "A"), 2000, "127.0.0.82");
    if (answer === null) return null;
    return dnsPacket.decode(answer).answers!.map((record) => String((record as { data?: unknown }).data)).sort();
  };
  const deadline = Date.now() + 60_000;
  let first = await addresses();
  while (first === null || first.length !== 2) {
    if (Date.now() > deadline) throw new Error(`the client agent never answered both instances: ${JSON.stringify(first)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    first = await addresses();
  }
  t.deepEqual(first, ["10.9.0.1", "10.9.0.2"]);
  const before = roundTrips();
  t.deepEqual(await addresses(), ["10.9.0.1", "10.9.0.2"]);
  t.deepEqual(await addresses(), ["10.9.0.1", "10.9.0.2"]);
  t.is(roundTrips(), before, "the repeats went to a server");

  const blockingBefore = forwarded.length - roundTrips();
  t.is((await server.put("/v1/catalog/deregister", { Node: "ext-2", ServiceID: "api" })).status, 200);
  const gone = Date.now() + 30_000;
  let now = await addresses();
  while (now === null || now.length !== 1) {
    if (Date.now() > gone) throw new Error(`the deregistration never reached the client's answers: ${JSON.stringify(now)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = await addresses();
  }
  t.deepEqual(now, ["10.9.0.1"]);
  t.is(roundTrips(), before, "the change came by the blocking read, not by asking again");
  t.is(forwarded.length - roundTrips(), blockingBefore + 1, "one blocking round brought it (and was re-armed)");
});

test("use_cache with allow_stale off caches too, reading and refreshing with default consistency", async (t) => {
  const backend = webBackend();
  const handler = handlerOver(backend.asBackend(), { useCache: true, allowStale: false }, false);
  t.teardown(() => handler.close());
  await ask(handler, "web.service.consul");
  t.true((await ask(handler, "web.service.consul")).fast);
  t.is(plainReads(backend), 1);
  backend.deregister("web-1", "web");
  await settle();
  t.deepEqual((await ask(handler, "web.service.consul")).data, ['"10.0.1.2"', '"10.0.1.3"']);
  t.deepEqual(backend.log.map((entry) => entry.options.consistency), ["default", "default"], "the read and its blocking refresh");
});
