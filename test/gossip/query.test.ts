/**
 * Serf queries in the pure core (query.ts through GossipNode), in the in-test network of pool.ts:
 * delivery with acks and responses de-duplicated per member, filters, the timeout, relays, the
 * query clock and duplicate buffer, Serf's internal queries (ping, conflict, keyring) and bad input
 * refused with a reason.
 */
import test from "ava";
import type { GossipEvent } from "../../src/core/gossip/events.ts";
import type { SerfQuery, SerfQueryResponse, SerfRelay, Tags } from "../../src/core/gossip/messages.ts";
import { QueryFlag } from "../../src/core/gossip/messages.ts";
import type { GossipOptions } from "../../src/core/gossip/node.ts";
import type { QueryKeyring } from "../../src/core/gossip/query.ts";
import {
  decodeConflictResponse, decodeKeyResponse, encodeKeyRequest, encodeQueryFilter,
} from "../../src/core/gossip/wire/serf-query-codec.ts";
import { TestPool, testConfig } from "./pool.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

type Of<T extends GossipEvent["type"]> = Extract<GossipEvent, { type: T }>;

function formed(specs: { name: string; tags?: Tags; options?: GossipOptions }[]): TestPool {
  const pool = new TestPool(testConfig());
  for (const s of specs) pool.add(s.name, s.tags ?? {}, s.options ?? {});
  for (const s of specs.slice(1)) pool.node(s.name).join([pool.addrOf(specs[0]!.name)]);
  pool.runUntil(() => pool.converged(), 2_000);
  return pool;
}
const names = (n: number): { name: string }[] => Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}` }));

function eventsOf<T extends GossipEvent["type"]>(pool: TestPool, name: string, type: T): Of<T>[] {
  return pool.eventsOf(name, type) as Of<T>[];
}

/** Every member answers each user query it receives with "<name>:<payload>". */
function answerAll(pool: TestPool): void {
  for (const [name, node] of pool.nodes) {
    for (const q of eventsOf(pool, name, "query")) {
      try {
        node.respond(q.lTime, q.id, text(`${name}:${str(q.payload)}`));
      } catch {
        // Already answered in an earlier round.
      }
    }
  }
}

/** A keyring as the transport's: base64 list with the primary first, errors as thrown messages. */
class FakeKeyring implements QueryKeyring {
  constructor(public keys: string[]) {}
  list(): string[] {
    return [...this.keys];
  }
  addKey(key: Uint8Array): void {
    if (![16, 24, 32].includes(key.length)) throw new Error(`key size must be 16, 24 or 32 bytes, got ${key.length}`);
    const k = Buffer.from(key).toString("base64");
    if (!this.keys.includes(k)) this.keys.push(k);
  }
  useKey(key: Uint8Array): void {
    const k = Buffer.from(key).toString("base64");
    if (!this.keys.includes(k)) throw new Error("requested key is not in the keyring");
    this.keys = [k, ...this.keys.filter((x) => x !== k)];
  }
  removeKey(key: Uint8Array): void {
    const k = Buffer.from(key).toString("base64");
    if (this.keys[0] === k) throw new Error("removing the primary key is not allowed");
    this.keys = this.keys.filter((x) => x !== k);
  }
}

test("a query reaches every member once; acks and responses come back once per member until the timeout", (t) => {
  const pool = formed(names(5));
  const n1 = pool.node("n1");
  t.is(n1.defaultQueryTimeoutMs, 200 * 16 * 1, "GossipInterval x QueryTimeoutMult x ceil(log10(5 + 1))");
  const h = n1.query("greet", text("hi"), { requestAck: true });
  t.is(h.deadlineTick - n1.tickCount, 32, "3.2 s of 100 ms ticks");
  pool.run(10);
  answerAll(pool);
  pool.run(10);
  for (const name of pool.nodes.keys()) {
    const got = eventsOf(pool, name, "query");
    t.is(got.length, 1, `${name} got the query once`);
    t.like(got[0], { name: "greet", from: "n1", lTime: h.lTime, id: h.id });
  }
  const acks = eventsOf(pool, "n1", "query-ack").map((e) => e.from).sort();
  t.deepEqual(acks, ["n1", "n2", "n3", "n4", "n5"], "the asker acks its own query, as Serf does");
  const responses = eventsOf(pool, "n1", "query-response").map((e) => str(e.payload)).sort();
  t.deepEqual(responses, ["n1:hi", "n2:hi", "n3:hi", "n4:hi", "n5:hi"]);
  t.deepEqual(eventsOf(pool, "n1", "query-done"), []);
  pool.runUntil(() => eventsOf(pool, "n1", "query-done").length > 0, 40);
  t.like(eventsOf(pool, "n1", "query-done")[0], { lTime: h.lTime, id: h.id, acks: 5, responses: 5 });
  t.is(n1.tickCount, h.deadlineTick, "closed exactly at the deadline");

  // A member's second answer, and any answer after the close, are refused.
  t.throws(() => pool.node("n3").respond(h.lTime, h.id, text("again")), { instanceOf: RangeError, message: /no open query/ });
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { type: "queryResponse", LTime: h.lTime, ID: h.id, From: "n2", Flags: 0, Payload: text("late") } }, "udp");
  pool.flush();
  t.true(eventsOf(pool, "n1", "query-warning").some((w) => /non-running query/.test(w.message)));
  t.is(eventsOf(pool, "n1", "query-response").length, 5);
});

test("duplicates: the same query, ack or response delivered twice counts once", (t) => {
  const pool = formed(names(3));
  const n1 = pool.node("n1");
  const h = n1.query("q", text(""), { requestAck: true });
  pool.run(10);
  const q = eventsOf(pool, "n2", "query")[0]!;
  const n2 = pool.node("n2");
  const query: SerfQuery = {
    type: "query", LTime: q.lTime, ID: q.id, Addr: Uint8Array.of(10, 0, 0, 1), Port: 7946, SourceNode: "n1", Filters: [],
    Flags: QueryFlag.ack, RelayFactor: 0, Timeout: 3_200_000_000, Name: "q", Payload: new Uint8Array(0),
  };
  n2.receive(pool.addrOf("n3"), { type: "user", Msg: query }, "udp");
  pool.flush();
  t.is(eventsOf(pool, "n2", "query").length, 1);
  const ack: SerfQueryResponse = { type: "queryResponse", LTime: h.lTime, ID: h.id, From: "n2", Flags: QueryFlag.ack, Payload: null };
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: ack }, "udp");
  const resp: SerfQueryResponse = { ...ack, Flags: 0, Payload: text("a") };
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: resp }, "udp");
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { ...resp, Payload: text("b") } }, "udp");
  pool.flush();
  t.is(eventsOf(pool, "n1", "query-ack").filter((e) => e.from === "n2").length, 1);
  t.deepEqual(eventsOf(pool, "n1", "query-response").map((e) => str(e.payload)), ["a"], "the first response per member wins");
  n1.receive(pool.addrOf("n2"), { type: "user", Msg: { ...resp, ID: h.id + 1, From: "n3" } }, "udp");
  t.true(n1.drain().events.some((e) => e.type === "query-warning" && /ID mismatch/.test(e.message)));
});

test("filters: node names and tag expressions pick who answers; the others still pass the query on", (t) => {
  const pool = formed([
    { name: "n1", tags: { role: "web" } }, { name: "n2", tags: { role: "db" } }, { name: "n3", tags: { role: "web2" } },
    { name: "n4", tags: {} }, { name: "n5", tags: { role: "webby" } },
  ]);
  // n1 can reach only n2 directly, so the query reaches the rest only if n2 (filtered out) passes it on.
  const n1 = pool.addrOf("n1");
  const n2 = pool.addrOf("n2");
  pool.drop = (f) => f.from === n1 && f.to !== n2 && f.packet.msgs.some((m) => m.type === "user" && m.Msg.type === "query");
  pool.node("n1").query("tagged", text("x"), { requestAck: true, filterTags: { role: "^web[0-9]?$" } });
  pool.run(20);
  t.deepEqual([...pool.nodes.keys()].filter((n) => eventsOf(pool, n, "query").length > 0), ["n1", "n3"]);
  t.deepEqual(eventsOf(pool, "n1", "query-ack").map((e) => e.from).sort(), ["n1", "n3"]);

  pool.drop = () => false;
  pool.node("n1").query("named", text("x"), { requestAck: true, filterNodes: ["n3", "n4"], filterTags: { role: "web" } });
  pool.run(20);
  t.deepEqual([...pool.nodes.keys()].filter((n) => eventsOf(pool, n, "query").some((q) => q.name === "named")), ["n3"], "every filter must pass");
});

test("bad filters are refused with a logged reason and the query goes unanswered", (t) => {
  const pool = formed(names(2));
  const n2 = pool.node("n2");
  const base: SerfQuery = {
    type: "query", LTime: 5, ID: 1, Addr: Uint8Array.of(10, 0, 0, 1), Port: 7946, SourceNode: "n1", Filters: [],
    Flags: QueryFlag.ack, RelayFactor: 0, Timeout: 1_000_000_000, Name: "q", Payload: new Uint8Array(0),
  };
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(9, 0x90), /bad filter.*filter type 9/],
    [encodeQueryFilter({ kind: "tag", tag: "role", expr: "(" }), /does not compile/],
    [encodeQueryFilter({ kind: "tag", tag: "role", expr: "(a)\\1" }), /does not compile as RE2.*invalid escape/],
  ];
  cases.forEach(([filter, reason], i) => {
    n2.drain();
    n2.receive(pool.addrOf("n1"), { type: "user", Msg: { ...base, ID: i + 1, Filters: [filter] } }, "udp");
    const out = n2.drain();
    t.true(out.events.some((e) => e.type === "query-warning" && reason.test(e.message)), `${reason}: ${JSON.stringify(out.events)}`);
    t.false(out.events.some((e) => e.type === "query"));
    t.false(out.packets.some((p) => p.msgs.some((m) => m.type === "user" && m.Msg.type === "queryResponse")), "no ack");
  });
  t.throws(() => pool.node("n1").query("q", text(""), { filterTags: { role: "(" } }), { instanceOf: RangeError });
  t.throws(() => pool.node("n1").query("", text("")), { instanceOf: RangeError, message: /needs a name/ });
  t.throws(() => pool.node("n1").query("q", new Uint8Array(2000)), { instanceOf: RangeError, message: /over the limit of 1024/ });
  t.throws(() => pool.node("n1").query("q", text(""), { relayFactor: 256 }), { instanceOf: RangeError });
});

test("relays: with relayFactor 2 an answer also goes through two other members, so a lost direct reply still arrives", (t) => {
  const pool = formed(names(5));
  const n1 = pool.addrOf("n1");
  const n3 = pool.addrOf("n3");
  const relayed: SerfRelay[] = [];
  pool.drop = (f) => {
    for (const m of f.packet.msgs) if (m.type === "user" && m.Msg.type === "relay") relayed.push(m.Msg);
    // n3's direct replies to n1 are lost.
    return f.from === n3 && f.to === n1 && f.packet.msgs.some((m) => m.type === "user" && m.Msg.type === "queryResponse");
  };
  pool.node("n1").query("r", text("p"), { requestAck: true, relayFactor: 2 });
  pool.run(10);
  answerAll(pool);
  pool.run(5);
  t.true(eventsOf(pool, "n1", "query-ack").some((e) => e.from === "n3"), "n3's ack came through a relay");
  t.true(eventsOf(pool, "n1", "query-response").some((e) => e.from === "n3"), "n3's response came through a relay");
  t.is(eventsOf(pool, "n1", "query-response").length, 5, "relayed copies are not counted twice");
  const fromN3 = relayed.filter((r) => r.Msg.type === "queryResponse" && r.Msg.From === "n3");
  t.is(fromN3.length, 4, "two relays of the ack, two of the response");
  t.true(fromN3.every((r) => r.DestName === "n1" && r.DestAddr.Port === 7946));

  const small = formed(names(2));
  const seen: string[] = [];
  small.drop = (f) => {
    for (const m of f.packet.msgs) if (m.type === "user") seen.push(m.Msg.type);
    return false;
  };
  small.node("n1").query("r", text("p"), { requestAck: true, relayFactor: 2 });
  small.run(10);
  t.false(seen.includes("relay"), "a pool smaller than relayFactor + 1 relays nothing, as Serf");
});

test("a relay is forwarded unwrapped to its destination; one wrapping anything but a response is refused", (t) => {
  const pool = formed(names(2));
  const n2 = pool.node("n2");
  n2.drain();
  const resp: SerfQueryResponse = { type: "queryResponse", LTime: 3, ID: 9, From: "x", Flags: 0, Payload: text("r") };
  n2.receive(pool.addrOf("n1"), { type: "user", Msg: { type: "relay", DestAddr: { IP: Uint8Array.of(10, 9, 9, 9), Port: 8000, Zone: "" }, DestName: "z", Msg: resp } }, "udp");
  t.deepEqual(n2.drain().packets, [{ to: "10.9.9.9:8000", msgs: [{ type: "user", Msg: resp }], via: "udp" }]);
  n2.receive(pool.addrOf("n1"), { type: "user", Msg: { type: "relay", DestAddr: { IP: Uint8Array.of(10, 9, 9, 9), Port: 8000, Zone: "" }, DestName: "z", Msg: { type: "join", LTime: 1, Node: "z" } } }, "udp");
  const out = n2.drain();
  t.deepEqual(out.packets, []);
  t.true(out.events.some((e) => e.type === "query-warning" && /wraps a join message/.test(e.message)));
});

test("clocks: the query clock is Serf's own; queries older than the buffer are refused; no-broadcast is not passed on", (t) => {
  const pool = formed(names(3));
  const n1 = pool.node("n1");
  const a = n1.query("a", text(""));
  const b = n1.query("b", text(""));
  t.is(b.lTime, a.lTime + 1, "each query takes the next query time");
  n1.userEvent("e", text(""), false);
  const c = n1.query("c", text(""));
  t.is(c.lTime, b.lTime + 1, "user events do not move the query clock");
  pool.run(10);
  const n2 = pool.node("n2");
  const base: SerfQuery = {
    type: "query", LTime: 1000, ID: 77, Addr: Uint8Array.of(10, 0, 0, 1), Port: 7946, SourceNode: "n1", Filters: [],
    Flags: 0, RelayFactor: 0, Timeout: 1_000_000_000, Name: "late", Payload: new Uint8Array(0),
  };
  n2.receive(pool.addrOf("n1"), { type: "user", Msg: base }, "udp");
  t.is(n2.drain().events.filter((e) => e.type === "query").length, 1);
  t.is(n2.query("mine", text("")).lTime, 1001, "witnessed the remote time");
  n2.drain();
  n2.receive(pool.addrOf("n1"), { type: "user", Msg: { ...base, LTime: 400, ID: 78 } }, "udp");
  const old = n2.drain().events;
  t.false(old.some((e) => e.type === "query"));
  t.true(old.some((e) => e.type === "query-warning" && /old query late from time 400 \(current: 1002\)/.test(e.message)));

  const n3 = pool.node("n3");
  n3.drain();
  const before = n3.pendingBroadcasts;
  n3.receive(pool.addrOf("n1"), { type: "user", Msg: { ...base, LTime: 1500, ID: 80, Flags: QueryFlag.noBroadcast } }, "udp");
  t.is(n3.pendingBroadcasts, before, "no-broadcast: delivered, not gossiped");
  n3.receive(pool.addrOf("n1"), { type: "user", Msg: { ...base, LTime: 1501, ID: 81 } }, "udp");
  t.is(n3.pendingBroadcasts, before + 1);
});

test("respond: only before the deadline, once, and within the response size limit", (t) => {
  const pool = formed(names(2));
  pool.node("n1").query("slow", text(""), { timeoutMs: 1000 });
  pool.run(5);
  const q = eventsOf(pool, "n2", "query")[0]!;
  const n2 = pool.node("n2");
  t.throws(() => n2.respond(q.lTime, q.id, new Uint8Array(1100)), { instanceOf: RangeError, message: /over the limit of 1024/ });
  pool.run(10);
  t.throws(() => n2.respond(q.lTime, q.id, text("late")), { instanceOf: RangeError });
  t.throws(() => n2.respond(12345, 1, text("x")), { instanceOf: RangeError, message: /no open query 12345\/1/ });
});

test("_serf_ping is acked without reaching the owner; _serf_conflict answers with our record of the member", (t) => {
  const pool = formed([{ name: "n1" }, { name: "n2", tags: { role: "db" } }, { name: "n3" }]);
  pool.node("n1").query("_serf_ping", new Uint8Array(0), { requestAck: true });
  pool.run(10);
  t.deepEqual(eventsOf(pool, "n1", "query-ack").map((e) => e.from).sort(), ["n1", "n2", "n3"]);
  for (const n of pool.nodes.keys()) t.deepEqual(eventsOf(pool, n, "query"), [], "internal queries stay inside");
  t.deepEqual(eventsOf(pool, "n1", "query-response"), []);

  pool.node("n1").query("_serf_conflict", text("n2"));
  pool.run(10);
  const answers = eventsOf(pool, "n1", "query-response");
  t.deepEqual(answers.map((a) => a.from).sort(), ["n1", "n3"], "n2 does not judge a conflict about itself");
  for (const a of answers) {
    t.like(decodeConflictResponse(a.payload), { Name: "n2", Port: 7946, Tags: { role: "db" }, Status: 1, ProtocolMax: 5 });
  }
  pool.node("n1").query("_serf_nonsense", new Uint8Array(0));
  pool.run(10);
  t.true(eventsOf(pool, "n2", "query-warning").some((w) => /unhandled internal query _serf_nonsense/.test(w.message)));
});

test("keyring queries act on each member's keyring and answer as Serf's nodeKeyResponse", (t) => {
  const k1 = Buffer.alloc(16, 1).toString("base64");
  const k2 = Buffer.alloc(32, 2);
  const rings = [new FakeKeyring([k1]), new FakeKeyring([k1])];
  const pool = formed([{ name: "n1", options: { keyring: rings[0]! } }, { name: "n2", options: { keyring: rings[1]! } }, { name: "n3" }]);
  const ask = (name: string, payload: Uint8Array): Record<string, ReturnType<typeof decodeKeyResponse>> => {
    const h = pool.node("n1").query(name, payload);
    pool.run(10);
    const out: Record<string, ReturnType<typeof decodeKeyResponse>> = {};
    for (const r of eventsOf(pool, "n1", "query-response")) if (r.lTime === h.lTime) out[r.from] = decodeKeyResponse(r.payload);
    return out;
  };
  const listed = ask("_serf_list-keys", encodeKeyRequest(new Uint8Array(0)));
  t.deepEqual(listed.n1, { Result: true, Message: "", Keys: [k1], PrimaryKey: k1 });
  t.deepEqual(listed.n3, { Result: false, Message: "Keyring is empty (encryption not enabled)", Keys: [], PrimaryKey: "" });

  const installed = ask("_serf_install-key", encodeKeyRequest(k2));
  t.true(installed.n1!.Result && installed.n2!.Result);
  t.is(installed.n3!.Message, "No keyring to modify (encryption not enabled)");
  t.deepEqual(rings.map((r) => r.list()), [[k1, k2.toString("base64")], [k1, k2.toString("base64")]]);
  t.true(ask("_serf_use-key", encodeKeyRequest(k2)).n2!.Result);
  t.is(rings[1]!.list()[0], k2.toString("base64"));
  const removePrimary = ask("_serf_remove-key", encodeKeyRequest(k2));
  t.deepEqual(removePrimary.n1, { Result: false, Message: "removing the primary key is not allowed", Keys: [], PrimaryKey: "" });
  t.true(ask("_serf_remove-key", encodeKeyRequest(Buffer.from(k1, "base64"))).n2!.Result);
  t.deepEqual(rings[1]!.list(), [k2.toString("base64")]);
  t.is(ask("_serf_install-key", encodeKeyRequest(new Uint8Array(5))).n1!.Message, "key size must be 16, 24 or 32 bytes, got 5");
  t.regex(ask("_serf_use-key", Uint8Array.of(7, 0xc1)).n1!.Message, /Failed to decode key request/);

  // Many keys: the list is cut to fit one 1,024-byte response, and says so (Serf's keyListResponseWithCorrectSize).
  for (let i = 0; i < 40; i++) rings[0]!.addKey(Buffer.alloc(32, 100 + i));
  const cut = ask("_serf_list-keys", encodeKeyRequest(new Uint8Array(0))).n1!;
  t.true(cut.Result);
  t.true(cut.Keys.length < 41 && cut.Keys.length > 10, `${cut.Keys.length} keys`);
  t.is(cut.Message, `truncated key list response, showing first ${cut.Keys.length} of 41 keys`);
});
