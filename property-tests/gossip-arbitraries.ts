/**
 * fast-check arbitraries for the gossip wire codec, shared by the property tests: every memberlist
 * and Serf message with fields across their whole ranges.
 */
import fc from "fast-check";
import type { MemberlistMessage, PushNodeState, SerfMessage, Vsn } from "../src/core/gossip/messages.ts";
import type { PacketMessage } from "../src/core/gossip/wire/memberlist-codec.ts";

const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const ltime = fc.maxSafeNat();
const name = fc.string({ maxLength: 40 });
export const blob = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });
const addr = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }));
const vsn: fc.Arbitrary<Vsn> = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const source = fc.record({ SourceAddr: addr, SourcePort: fc.integer({ min: 1, max: 0xffff }), SourceNode: fc.string({ minLength: 1, maxLength: 20 }) }, { requiredKeys: [] });

/** An ack's payload is Go's nil (null here), a response's any bytes. */
const queryResponse = fc.record({
  type: fc.constant("queryResponse" as const), LTime: ltime, ID: u32, From: name, Flags: u32, Payload: fc.option(blob(100), { nil: null }),
});

export const serfMessage: fc.Arbitrary<SerfMessage> = fc.oneof(
  fc.record({ type: fc.constant("join" as const), LTime: ltime, Node: name }),
  fc.record({ type: fc.constant("leave" as const), LTime: ltime, Node: name, Prune: fc.boolean() }),
  fc.record({ type: fc.constant("userEvent" as const), LTime: ltime, Name: name, Payload: blob(300), CC: fc.boolean() }),
  fc.record({
    type: fc.constant("pushPull" as const), LTime: ltime,
    StatusLTimes: fc.dictionary(fc.string({ maxLength: 12 }).filter((k) => k !== "__proto__"), ltime, { maxKeys: 5 }),
    LeftMembers: fc.array(name, { maxLength: 4 }), EventLTime: ltime,
    Events: fc.array(fc.option(fc.record({ LTime: ltime, Events: fc.array(fc.record({ Name: name, Payload: blob(20) }), { maxLength: 3 }) }), { nil: null }), { maxLength: 5 }),
    QueryLTime: ltime,
  }),
  fc.record({
    type: fc.constant("query" as const), LTime: ltime, ID: u32, Addr: addr, Port: u16, SourceNode: name,
    Filters: fc.array(blob(20), { maxLength: 3 }), Flags: u32, RelayFactor: fc.nat(255),
    Timeout: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), Name: name, Payload: blob(100),
  }),
  queryResponse,
  fc.record({
    type: fc.constant("relay" as const), DestAddr: fc.record({ IP: addr, Port: fc.integer({ min: 1, max: 0xffff }), Zone: fc.string({ maxLength: 8 }) }),
    DestName: name, Msg: queryResponse,
  }),
);

export const packetMessage: fc.Arbitrary<PacketMessage> = fc.oneof(
  fc.tuple(fc.record({ type: fc.constant("ping" as const), SeqNo: u32, Node: name }), source).map(([p, s]) => ({ ...p, ...s })),
  fc.tuple(fc.record({ type: fc.constant("indirectPing" as const), SeqNo: u32, Target: addr, Port: u16, Node: name, Nack: fc.boolean() }), source)
    .map(([p, s]) => ({ ...p, ...s })),
  fc.record({ type: fc.constant("ackResp" as const), SeqNo: u32, Payload: blob(120) }),
  fc.record({ type: fc.constant("nackResp" as const), SeqNo: u32 }),
  fc.record({ type: fc.constant("err" as const), Error: name }),
  fc.record({ type: fc.constant("suspect" as const), Incarnation: u32, Node: name, From: name }),
  fc.record({ type: fc.constant("dead" as const), Incarnation: u32, Node: name, From: name }),
  fc.record({ type: fc.constant("alive" as const), Incarnation: u32, Node: name, Addr: addr, Port: u16, Meta: blob(200), Vsn: vsn }),
  fc.record({ type: fc.constant("user" as const), Msg: serfMessage }),
);

export const pushNodeState: fc.Arbitrary<PushNodeState> = fc.record({
  Name: name, Addr: addr, Port: u16, Meta: blob(100), Incarnation: u32, State: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>, Vsn: vsn,
});
export const streamMessage: fc.Arbitrary<MemberlistMessage> = fc.oneof(
  packetMessage,
  fc.record({ type: fc.constant("pushPull" as const), Join: fc.boolean(), Nodes: fc.array(pushNodeState, { maxLength: 6 }), UserState: fc.option(serfMessage, { nil: null }) }),
);
export const flavor = fc.constantFrom("v0.5" as const, "v2" as const);

