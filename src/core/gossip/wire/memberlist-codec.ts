/**
 * memberlist's message bodies: a type byte then the go-msgpack struct (net.go), field by field in
 * Go declaration order, `codec:",omitempty"` fields left out when zero. Framing (compound, CRC,
 * compression, label) is in ./packet.ts and the TCP stream layout in ./stream.ts.
 */
import type {
  Ack, Alive, Dead, ErrResp, IndirectPing, MemberlistMessage, Nack, Ping, PushNodeState, Suspect, Vsn,
} from "../messages.ts";
import { MemberlistMsgType, NodeStateType } from "../messages.ts";
import { wireFail } from "./errors.ts";
import { type GoField, type GoMsgpackFlavor, GoMsgpackWriter, GoStructReader, decodeGoValuePrefix } from "./gomsgpack.ts";
import { decodeSerfMessage, encodeSerfMessage } from "./serf-codec.ts";

const uint32Max = 0xffffffff;
const uint16Max = 0xffff;

/** Messages that travel as one self-contained body (everything but push/pull, which is a stream). */
export type PacketMessage = Exclude<MemberlistMessage, { type: "pushPull" }>;

/** The encoded message: type byte then body. A user message's body is the raw Serf message. */
export function encodeMessage(m: PacketMessage, flavor?: GoMsgpackFlavor): Uint8Array {
  const w = new GoMsgpackWriter(flavor).byte(MemberlistMsgType[m.type]);
  if (m.type === "user") return w.raw(encodeSerfMessage(m.Msg, flavor)).finish();
  return w.struct(messageFields(m)).finish();
}

function messageFields(m: Exclude<PacketMessage, { type: "user" }>): GoField[] {
  switch (m.type) {
    case "ping": return [["SeqNo", (w) => w.uint(m.SeqNo)], ["Node", (w) => w.str(m.Node)], ...sourceFields(m)];
    case "indirectPing": return [
      ["SeqNo", (w) => w.uint(m.SeqNo)], ["Target", (w) => w.bytesOrNil(m.Target)], ["Port", (w) => w.uint(m.Port)],
      ["Node", (w) => w.str(m.Node)], ["Nack", (w) => w.bool(m.Nack)], ...sourceFields(m),
    ];
    // memberlist acks with a nil payload when it has no ping delegate.
    case "ackResp": return [["SeqNo", (w) => w.uint(m.SeqNo)], ["Payload", (w) => w.bytesOrNil(m.Payload.length ? m.Payload : null)]];
    case "nackResp": return [["SeqNo", (w) => w.uint(m.SeqNo)]];
    case "err": return [["Error", (w) => w.str(m.Error)]];
    case "suspect":
    case "dead": return [["Incarnation", (w) => w.uint(m.Incarnation)], ["Node", (w) => w.str(m.Node)], ["From", (w) => w.str(m.From)]];
    case "alive": return [
      ["Incarnation", (w) => w.uint(m.Incarnation)], ["Node", (w) => w.str(m.Node)], ["Addr", (w) => w.bytesOrNil(m.Addr)],
      ["Port", (w) => w.uint(m.Port)], ["Meta", (w) => w.bytesOrNil(m.Meta)], ["Vsn", (w) => w.bytesOrNil(Uint8Array.from(m.Vsn))],
    ];
  }
}

/** The omitempty source fields of ping and indirect ping: present only when set. */
function sourceFields(m: Ping | IndirectPing): GoField[] {
  const fields: GoField[] = [];
  if (m.SourceAddr && m.SourceAddr.length > 0) fields.push(["SourceAddr", (w) => w.bytesOrNil(m.SourceAddr!)]);
  if (m.SourcePort) fields.push(["SourcePort", (w) => w.uint(m.SourcePort!)]);
  if (m.SourceNode) fields.push(["SourceNode", (w) => w.str(m.SourceNode!)]);
  return fields;
}

/** A push/pull node state, as one msgpack value (no type byte: it follows the push/pull header). */
export function writePushNodeState(w: GoMsgpackWriter, n: PushNodeState): void {
  w.struct([
    ["Name", (x) => x.str(n.Name)], ["Addr", (x) => x.bytesOrNil(n.Addr)], ["Port", (x) => x.uint(n.Port)],
    ["Meta", (x) => x.bytesOrNil(n.Meta)], ["Incarnation", (x) => x.uint(n.Incarnation)], ["State", (x) => x.int(n.State)],
    ["Vsn", (x) => x.bytesOrNil(Uint8Array.from(n.Vsn))],
  ]);
}

/** Decodes a message whose body is self-contained (UDP packets, or a stream's ping/ack/err). */
export function decodeMessage(buf: Uint8Array): PacketMessage {
  if (buf.length === 0) wireFail("empty", "message has no type byte");
  const t = buf[0]!;
  const body = buf.subarray(1);
  const r = (what: string): GoStructReader => new GoStructReader(decodeBody(body, what), what);
  switch (t) {
    case MemberlistMsgType.ping: return readPing(r("ping"));
    case MemberlistMsgType.indirectPing: return readIndirectPing(r("indirect ping"));
    case MemberlistMsgType.ackResp: {
      const a = r("ack");
      return { type: "ackResp", SeqNo: a.uint("SeqNo", uint32Max), Payload: a.bytes("Payload") } satisfies Ack;
    }
    case MemberlistMsgType.nackResp: return { type: "nackResp", SeqNo: r("nack").uint("SeqNo", uint32Max) } satisfies Nack;
    case MemberlistMsgType.err: return { type: "err", Error: r("err").str("Error") } satisfies ErrResp;
    case MemberlistMsgType.suspect: return { type: "suspect", ...readAccusation(r("suspect")) } satisfies Suspect;
    case MemberlistMsgType.dead: return { type: "dead", ...readAccusation(r("dead")) } satisfies Dead;
    case MemberlistMsgType.alive: return readAlive(r("alive"));
    case MemberlistMsgType.user: return { type: "user", Msg: decodeSerfMessage(body) };
    default: {
      const known = (Object.values(MemberlistMsgType) as number[]).includes(t);
      return wireFail(known ? "unsupported" : "unknown-type", `message type ${t} in this position`);
    }
  }
}

/** go-msgpack decodes one value and ignores whatever follows it; so do we. */
function decodeBody(body: Uint8Array, what: string): unknown {
  return decodeGoValuePrefix(body, what).value;
}

function readSource(r: GoStructReader): Pick<Ping, "SourceAddr" | "SourcePort" | "SourceNode"> {
  const addr = r.bytes("SourceAddr");
  const port = r.uint("SourcePort", uint16Max);
  const node = r.str("SourceNode");
  return {
    ...(addr.length > 0 ? { SourceAddr: addr } : {}),
    ...(port > 0 ? { SourcePort: port } : {}),
    ...(node !== "" ? { SourceNode: node } : {}),
  };
}

function readPing(r: GoStructReader): Ping {
  return { type: "ping", SeqNo: r.uint("SeqNo", uint32Max), Node: r.str("Node"), ...readSource(r) };
}

function readIndirectPing(r: GoStructReader): IndirectPing {
  return {
    type: "indirectPing", SeqNo: r.uint("SeqNo", uint32Max), Target: r.bytes("Target"),
    Port: r.uint("Port", uint16Max), Node: r.str("Node"), Nack: r.bool("Nack"), ...readSource(r),
  };
}

function readAccusation(r: GoStructReader): { Incarnation: number; Node: string; From: string } {
  return { Incarnation: r.uint("Incarnation", uint32Max), Node: r.str("Node"), From: r.str("From") };
}

function readAlive(r: GoStructReader): Alive {
  return {
    type: "alive", Incarnation: r.uint("Incarnation", uint32Max), Node: r.str("Node"), Addr: r.bytes("Addr"),
    Port: r.uint("Port", uint16Max), Meta: r.bytes("Meta"), Vsn: readVsn(r, "alive"),
  };
}

/** memberlist sends Vsn as a 6-byte []uint8; protocol-1 peers may send none (all zero then). */
function readVsn(r: GoStructReader, what: string): Vsn {
  const v = r.bytes("Vsn");
  if (v.length === 0) return [0, 0, 0, 0, 0, 0];
  if (v.length < 6) wireFail("bad-field", `${what}.Vsn has ${v.length} bytes, need 6`);
  return [v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!];
}

/**
 * A push/pull node state, or null for a State memberlist does not know: its mergeState skips such a
 * node and merges the rest, so one odd entry does not cost the whole push/pull.
 */
export function readPushNodeState(value: unknown): PushNodeState | null {
  const r = new GoStructReader(value, "push/pull node");
  const state = r.int("State");
  if (state < NodeStateType.alive || state > NodeStateType.left) return null;
  return {
    Name: r.str("Name"), Addr: r.bytes("Addr"), Port: r.uint("Port", uint16Max), Meta: r.bytes("Meta"),
    Incarnation: r.uint("Incarnation", uint32Max), State: state as NodeStateType, Vsn: readVsn(r, "push/pull node"),
  };
}
