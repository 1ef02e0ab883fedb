/**
 * Where Praetor once differed from memberlist/Serf (issue 15, defects 4 and 5), each pinned to
 * bytes a real serf sent (fixtures/serf-0.8.2.json, captured by fixtures/capture-serf.ts) or to the
 * exact datagram of the report. Upstream's behaviour is the expectation, except where a reason
 * to differ is written next to the code (the UDP inflation limit and nesting depth, packet.ts).
 */
import test from "ava";
import { readFileSync } from "node:fs";
import { defaultLanConfig } from "../../src/core/gossip/config.ts";
import type { MemberlistMessage, PushPull } from "../../src/core/gossip/messages.ts";
import { GossipNode } from "../../src/core/gossip/node.ts";
import { mulberry32 } from "../../src/core/util/rng.ts";
import { WireError } from "../../src/core/gossip/wire/errors.ts";
import { GoMsgpackWriter } from "../../src/core/gossip/wire/gomsgpack.ts";
import { writePushNodeState } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { compressMessage, decodePacket, decompressedPacketBytesMax } from "../../src/core/gossip/wire/packet.ts";
import { decodeSerfMessage } from "../../src/core/gossip/wire/serf-codec.ts";
import { decodeStream } from "../../src/core/gossip/wire/stream.ts";
import { lzwCompress } from "../../src/core/gossip/wire/lzw.ts";

const fixtures = JSON.parse(readFileSync(new URL("./fixtures/serf-0.8.2.json", import.meta.url), "utf8")) as {
  packets: Record<string, { hex: string }>;
};
const captured = (name: string): Uint8Array => Uint8Array.from(Buffer.from(fixtures.packets[name]!.hex, "hex"));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const reasonOf = (f: () => unknown): string => {
  try {
    f();
    return "no error";
  } catch (e) {
    return e instanceof WireError ? e.reason : `not a WireError: ${String(e)}`;
  }
};

function member(name = "p1", port = 7946): GossipNode {
  return new GossipNode({ ...defaultLanConfig(), coordinates: true }, { name, addr: Uint8Array.of(127, 0, 0, 1), port, tags: {} }, mulberry32(1));
}

/** serf's push/pull reply (captured), decoded, as the base for altered node states. */
function serfPushPull(): PushPull {
  const found = decodeStream(captured("pushpull-join-reply-compressed-tcp"));
  if (found?.msg?.type !== "pushPull") throw new Error("fixture is not a push/pull");
  return found.msg;
}

/** A push/pull stream whose node states are written raw, so a State or Port serf never sends can be put in. */
function pushPullStream(nodes: readonly PushPull["Nodes"][number][], stateOverride?: number): Uint8Array {
  const w = new GoMsgpackWriter().byte(6).struct([["Join", (x) => x.bool(false)], ["Nodes", (x) => x.int(nodes.length)], ["UserStateLen", (x) => x.int(0)]]);
  nodes.forEach((n, i) => writePushNodeState(w, i === 0 && stateOverride !== undefined ? { ...n, State: stateOverride as 0 } : n));
  return w.finish();
}

test("defect 4: the datagram 08 03 80 (a user event with no name) is refused, not delivered nor relayed", (t) => {
  const datagram = Uint8Array.of(0x08, 0x03, 0x80);
  const { msgs } = decodePacket(datagram);
  t.deepEqual(msgs, [{ type: "user", Msg: { type: "userEvent", LTime: 0, Name: "", Payload: new Uint8Array(0), CC: false } }]);
  const p = member();
  p.drain();
  p.receive("127.0.0.9:7946", msgs[0]!, "udp");
  const out = p.drain();
  t.deepEqual(out.events, [], "no user-event delivered");
  t.is(p.pendingBroadcasts, 1, "only our own alive is queued: the event is not relayed");
  t.is(p.counters.badEvents, 1);
  t.throws(() => p.userEvent("", Uint8Array.of(1), false), { message: /needs a name/ });
});

test("bytes after a Serf message are ignored, as Serf's decoder does (serf's own user event, with a tail)", (t) => {
  const packet = captured("user-event-crc");
  const serfBytes = packet.subarray(5 + 1); // CRC header, then memberlist's user type byte
  const plain = decodeSerfMessage(serfBytes);
  t.deepEqual(decodeSerfMessage(concat(serfBytes, Uint8Array.of(0xc0, 1, 2, 3))), plain);
  t.is(plain.type, "userEvent");
});

test("an ack to a TCP fallback ping carries no coordinate (memberlist answers it without the ping delegate)", (t) => {
  const p = member();
  p.drain();
  p.receive("127.0.0.9:40000", { type: "ping", SeqNo: 9, Node: "p1" }, "tcp");
  const [reply] = p.drain().packets;
  t.deepEqual(reply, { to: "127.0.0.9:40000", msgs: [{ type: "ackResp", SeqNo: 9, Payload: new Uint8Array(0) }], via: "tcp-reply" });
  p.receive("127.0.0.9:7946", { type: "ping", SeqNo: 10, Node: "p1" }, "udp");
  const udpAck = p.drain().packets[0]!.msgs[0] as Extract<MemberlistMessage, { type: "ackResp" }>;
  t.true(udpAck.Payload.length > 0, "a UDP ack still carries Serf's coordinate");
});

test("a stream user message of length 0 is accepted and ignored, as memberlist and Serf do", (t) => {
  const bytes = Uint8Array.of(0x08, 0x81, 0xaa, ...new TextEncoder().encode("UserMsgLen"), 0x00);
  t.deepEqual(decodeStream(bytes), { msg: null, byteLength: bytes.length });
});

test("a push/pull node with a State memberlist does not know is skipped; serf's own node still merges", (t) => {
  const base = serfPushPull().Nodes[0]!;
  const odd = { ...base, Name: "odd" };
  const found = decodeStream(pushPullStream([odd, base], 7));
  t.is(found?.msg?.type, "pushPull");
  t.deepEqual((found!.msg as PushPull).Nodes, [base], "the node with State 7 is skipped, the rest kept");
});

test("a push/pull node with port 0 is given our own bind port (memberlist readRemoteState)", (t) => {
  const base = serfPushPull().Nodes[0]!;
  const p = member("p1", 8301);
  p.drain();
  p.receive("127.0.0.1:17946", { type: "pushPull", Join: false, Nodes: [{ ...base, Port: 0 }], UserState: null }, "tcp");
  t.is(p.member("s1")?.port, 8301);
});

test("UDP inflation is capped at 1 MiB and nesting at 4 (upstream: 40 MiB, unlimited; reasons in packet.ts)", (t) => {
  // A real serf packet, compressed inside compressions: 4 levels decode, 5 are refused.
  let nested = captured("alive-crc").subarray(5);
  for (let level = 1; level <= 4; level++) nested = compressMessage(nested);
  t.is(decodePacket(nested).msgs[0]?.type, "alive");
  t.is(reasonOf(() => decodePacket(compressMessage(nested))), "bad-field");
  const bomb = new GoMsgpackWriter().byte(9).struct([["Algo", (w) => w.uint(0)], ["Buf", (w) => w.bytesOrNil(lzwCompress(new Uint8Array(decompressedPacketBytesMax + 1)))]]).finish();
  t.true(bomb.length < 65536, `a ${bomb.length}-byte datagram`);
  t.is(reasonOf(() => decodePacket(bomb)), "oversized");
});
