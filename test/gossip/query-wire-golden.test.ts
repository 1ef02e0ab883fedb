/**
 * Golden bytes of Serf queries: datagrams a real serf agent (Debian's serf 0.9.4, go-msgpack 0.5.5)
 * sent while it ran `serf query` with node and tag filters and a relay factor, answered a fake
 * member's queries (user, `_serf_list-keys`, `_serf_conflict`) with acks, responses and relays, and
 * ran `serf keys -list` (captured, decrypted, by fixtures/capture-serf-query.ts). Each one decodes to
 * the record Serf meant, and re-encoding that record gives back the very same bytes.
 */
import test from "ava";
import { readFileSync } from "node:fs";
import type { SerfMessage, SerfQuery, SerfQueryResponse, SerfRelay } from "../../src/core/gossip/messages.ts";
import type { PacketMessage } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { decodePacket, encodePackets } from "../../src/core/gossip/wire/packet.ts";
import { decodeSerfMessage, encodeSerfMessage } from "../../src/core/gossip/wire/serf-codec.ts";
import {
  decodeConflictResponse, decodeKeyRequest, decodeKeyResponse, decodeQueryFilter, encodeConflictResponse, encodeKeyRequest,
  encodeKeyResponse, encodeQueryFilter,
} from "../../src/core/gossip/wire/serf-query-codec.ts";

const fixtures = JSON.parse(readFileSync(new URL("./fixtures/serf-queries.json", import.meta.url), "utf8")) as {
  key: string; packets: Record<string, { hex: string }>; cli: Record<string, string>;
};
const packet = (name: string): Uint8Array => Uint8Array.from(Buffer.from(fixtures.packets[name]!.hex, "hex"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const serfAddr = Uint8Array.of(127, 0, 0, 61);

function onlyUser(name: string): SerfMessage {
  const d = decodePacket(packet(name));
  t0(d.partErrors.length === 0, `${name}: ${d.partErrors.map((e) => e.message).join()}`);
  const m = d.msgs.find((x) => x.type === "user");
  if (m?.type !== "user") throw new Error(`${name}: no user message`);
  return m.Msg;
}
function t0(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}
function roundTrip(name: string, msgs: PacketMessage[]): string {
  const [again, ...more] = encodePackets(msgs, { crc: name.endsWith("-crc") });
  t0(more.length === 0, "one packet");
  return hex(again!);
}

test("golden: serf's query with node and tag filters and a relay factor, CRC framed", (t) => {
  const q = onlyUser("query-with-filters-crc") as SerfQuery;
  t.like(q, {
    type: "query", LTime: 1, Port: 17946, SourceNode: "s1", Flags: 1, RelayFactor: 1, Timeout: 3_000_000_000, Name: "greet",
  });
  t.deepEqual(q.Addr, serfAddr);
  t.deepEqual(q.Payload, text("hi"));
  t.deepEqual(q.Filters.map(decodeQueryFilter), [{ kind: "node", names: ["s1", "cap"] }, { kind: "tag", tag: "role", expr: "web|cap" }]);
  t.deepEqual(q.Filters.map((f) => hex(encodeQueryFilter(decodeQueryFilter(f)))), q.Filters.map(hex), "filters re-encode byte for byte");
  t.is(roundTrip("query-with-filters-crc", [{ type: "user", Msg: q }]), fixtures.packets["query-with-filters-crc"]!.hex);
});

test("golden: a query piggybacked on a ping in a compound; a rebroadcast query without filters (nil)", (t) => {
  const d = decodePacket(packet("ping-and-query-compound"));
  t.deepEqual(d.msgs.map((m) => m.type), ["ping", "user"]);
  t.is(roundTrip("ping-and-query-compound", d.msgs), fixtures.packets["ping-and-query-compound"]!.hex);
  const q = onlyUser("query-rebroadcast-crc") as SerfQuery;
  t.like(q, { SourceNode: "cap", Port: 17999, Flags: 1, RelayFactor: 1, Timeout: 2_000_000_000 });
  t.deepEqual(q.Filters, []);
  t.is(roundTrip("query-rebroadcast-crc", [{ type: "user", Msg: q }]), fixtures.packets["query-rebroadcast-crc"]!.hex);
});

test("golden: acks carry a nil payload, responses a payload; both re-encode the same", (t) => {
  const ack = onlyUser("ack-direct") as SerfQueryResponse;
  t.deepEqual(ack, { type: "queryResponse", LTime: 10, ID: 4253, From: "s1", Flags: 1, Payload: null });
  const resp = onlyUser("response-direct") as SerfQueryResponse;
  t.deepEqual(resp, { type: "queryResponse", LTime: 10, ID: 4253, From: "s1", Flags: 0, Payload: text("pong\n") });
  for (const name of ["ack-direct", "response-direct", "list-keys-ack", "conflict-ack"]) {
    t.is(roundTrip(name, [{ type: "user", Msg: onlyUser(name) }]), fixtures.packets[name]!.hex, name);
  }
});

test("golden: relays name their destination (net.UDPAddr and node name) and wrap the response", (t) => {
  const relay = onlyUser("relay-ack-to-cap") as SerfRelay;
  t.deepEqual(relay.DestAddr, { IP: serfAddr, Port: 17999, Zone: "" });
  t.is(relay.DestName, "cap");
  t.deepEqual(relay.Msg, { type: "queryResponse", LTime: 10, ID: 4253, From: "s1", Flags: 1, Payload: null });
  const own = onlyUser("relay-of-own-response-via-cap") as SerfRelay;
  t.is(own.DestName, "s1");
  t.is(own.DestAddr.Port, 17946);
  t.deepEqual((own.Msg as SerfQueryResponse).Payload, text("pong\n"));
  for (const name of ["relay-ack-to-cap", "relay-response-to-cap", "relay-of-own-ack-via-cap", "relay-of-own-response-via-cap"]) {
    t.is(roundTrip(name, [{ type: "user", Msg: onlyUser(name) }]), fixtures.packets[name]!.hex, name);
  }
});

test("golden: keyring query payloads (keyRequest) and serf's nodeKeyResponse", (t) => {
  const q = onlyUser("keys-list-query-crc") as SerfQuery;
  t.like(q, { Name: "_serf_list-keys", Flags: 0, RelayFactor: 0, SourceNode: "s1", Timeout: 3_200_000_000 });
  t.deepEqual(decodeKeyRequest(q.Payload), new Uint8Array(0));
  t.is(hex(encodeKeyRequest(new Uint8Array(0))), hex(q.Payload));
  t.is(roundTrip("keys-list-query-crc", [{ type: "user", Msg: q }]), fixtures.packets["keys-list-query-crc"]!.hex);

  const resp = onlyUser("list-keys-response") as SerfQueryResponse;
  const keys = decodeKeyResponse(resp.Payload!);
  t.deepEqual(keys, { Result: true, Message: "", Keys: [fixtures.key], PrimaryKey: fixtures.key });
  t.is(hex(encodeKeyResponse(keys)), hex(resp.Payload!));
  t.is(roundTrip("list-keys-response", [{ type: "user", Msg: resp }]), fixtures.packets["list-keys-response"]!.hex);
});

test("golden: a _serf_conflict answer is serf's Member record", (t) => {
  const resp = onlyUser("conflict-response") as SerfQueryResponse;
  const member = decodeConflictResponse(resp.Payload!);
  t.deepEqual(member, {
    Name: "cap", Addr: serfAddr, Port: 17999, Tags: { role: "cap" }, Status: 1,
    ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
  });
  t.is(hex(encodeConflictResponse(member)), hex(resp.Payload!));
  t.is(decodeConflictResponse(encodeConflictResponse(null)), null);
});

test("bad query bytes are refused with a reason, never thrown as anything but a WireError", (t) => {
  t.throws(() => decodeQueryFilter(Uint8Array.of(7, 0x90)), { message: /filter type 7/ });
  t.throws(() => decodeQueryFilter(Uint8Array.of(0, 0x81, 0xa1, 0x61, 0x01)), { message: /node filter/ });
  t.throws(() => decodeQueryFilter(new Uint8Array(0)), { message: /no type byte/ });
  const relay = encodeSerfMessage({ type: "relay", DestAddr: { IP: serfAddr, Port: 1, Zone: "" }, DestName: "x", Msg: { type: "join", LTime: 1, Node: "x" } });
  t.deepEqual(decodeSerfMessage(relay), { type: "relay", DestAddr: { IP: serfAddr, Port: 1, Zone: "" }, DestName: "x", Msg: { type: "join", LTime: 1, Node: "x" } });
  t.throws(() => decodeSerfMessage(relay.subarray(0, relay.length - 12)), { message: /truncated|runs past|no message/ });
  const badPort = encodeSerfMessage({ type: "relay", DestAddr: { IP: serfAddr, Port: 0, Zone: "" }, DestName: "x", Msg: { type: "join", LTime: 1, Node: "x" } });
  t.throws(() => decodeSerfMessage(badPort), { message: /destination port 0/ });
  const nested = Uint8Array.from([...relay.subarray(0, relay.length - encodeSerfMessage({ type: "join", LTime: 1, Node: "x" }).length), ...relay]);
  t.throws(() => decodeSerfMessage(nested), { message: /another relay/ });
  t.throws(() => decodeKeyResponse(text("x")), { message: /key response type/ });
});
