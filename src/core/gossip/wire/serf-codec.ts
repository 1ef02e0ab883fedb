/**
 * Serf's encodings: member tags in memberlist node metadata, Vivaldi coordinates in ack payloads,
 * and Serf's own messages (a type byte then a go-msgpack struct) carried in memberlist user
 * messages and push/pull user state. Layouts from hashicorp/serf serf/serf.go (encodeTags,
 * decodeTags), serf/ping_delegate.go and serf/messages.go.
 */
import type {
  Coordinate, SerfJoin, SerfLeave, SerfMessage, SerfPushPull, SerfQuery, SerfRelay, SerfUserEvents, Tags,
} from "../messages.ts";
import { SerfMsgType } from "../messages.ts";
import { WireError, wireFail } from "./errors.ts";
import {
  type GoField, type GoMsgpackFlavor, GoMsgpackWriter, GoStructReader, asBytes, bytesToString, decodeGoValuePrefix,
} from "./gomsgpack.ts";
import { decodeRelay, relayHeaderFields } from "./serf-query-codec.ts";

/** Serf protocol >= 3 prefixes msgpack-encoded tags with this byte; older metadata is the bare role. */
export const tagMagicByte = 255;

/** Serf's ping delegate version header (PingVersion). */
export const pingVersion = 1;

/** memberlist refuses node metadata above this size (MetaMaxSize). */
export const metaMaxBytes = 512;

const uint32Max = 0xffffffff;
const uint16Max = 0xffff;

/** Tags as Serf encodes them; keys sorted so the same tags always give the same bytes. */
export function encodeTags(tags: Tags, flavor?: GoMsgpackFlavor): Uint8Array {
  const keys = Object.keys(tags).sort();
  const w = new GoMsgpackWriter(flavor).byte(tagMagicByte).mapHeader(keys.length);
  for (const k of keys) w.str(k).str(tags[k]!);
  const meta = w.finish();
  if (meta.length > metaMaxBytes) wireFail("oversized", `tags encode to ${meta.length} bytes, limit ${metaMaxBytes}`);
  return meta;
}

/** Serf's decodeTags: without the magic byte the whole metadata is the legacy `role` tag. */
export function decodeTags(meta: Uint8Array): Tags {
  if (meta.length === 0 || meta[0] !== tagMagicByte) return { role: bytesToString(meta) };
  const value = decodeGoValuePrefix(meta.subarray(1), "tags").value;
  if (value === null) return {};
  const map = new GoStructReader(value, "tags");
  const tags: Record<string, string> = {};
  for (const key of Object.keys(value as object)) tags[key] = map.str(key);
  return tags;
}

/** The ack payload Serf's ping delegate sends: the version byte, then the coordinate struct. */
export function encodePingPayload(c: Coordinate, flavor?: GoMsgpackFlavor): Uint8Array {
  return new GoMsgpackWriter(flavor).byte(pingVersion).struct([
    ["Vec", (w) => {
      w.arrayHeader(c.Vec.length);
      for (const x of c.Vec) w.f64(x);
    }],
    ["Error", (w) => w.f64(c.Error)],
    ["Adjustment", (w) => w.f64(c.Adjustment)],
    ["Height", (w) => w.f64(c.Height)],
  ]).finish();
}

/**
 * The coordinate in an ack payload, or null when there is none Serf would use: an empty payload,
 * another ping version, a malformed or non-finite coordinate (Serf logs these and moves on).
 */
export function decodePingPayload(p: Uint8Array): Coordinate | null {
  if (p.length === 0 || p[0] !== pingVersion) return null;
  try {
    const r = new GoStructReader(decodeGoValuePrefix(p.subarray(1), "coordinate").value, "coordinate");
    const vec = r.array("Vec").map((x) => (typeof x === "number" ? x : NaN));
    const c: Coordinate = { Vec: vec, Error: r.f64("Error"), Adjustment: r.f64("Adjustment"), Height: r.f64("Height") };
    const finite = [...c.Vec, c.Error, c.Adjustment, c.Height].every(Number.isFinite);
    return finite ? c : null;
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

/** One Serf message: its type byte, then the struct (serf/messages.go encodeMessage). */
export function encodeSerfMessage(m: SerfMessage, flavor?: GoMsgpackFlavor): Uint8Array {
  if (m.type === "relay") {
    return new GoMsgpackWriter(flavor).byte(SerfMsgType.relay).struct(relayHeaderFields(m)).raw(encodeSerfMessage(m.Msg, flavor)).finish();
  }
  return new GoMsgpackWriter(flavor).byte(SerfMsgType[m.type]).struct(serfFields(m)).finish();
}

function serfFields(m: Exclude<SerfMessage, SerfRelay>): GoField[] {
  switch (m.type) {
    case "join": return [["LTime", (w) => w.uint(m.LTime)], ["Node", (w) => w.str(m.Node)]];
    case "leave": return [["LTime", (w) => w.uint(m.LTime)], ["Node", (w) => w.str(m.Node)], ["Prune", (w) => w.bool(m.Prune)]];
    case "userEvent": return [
      ["LTime", (w) => w.uint(m.LTime)], ["Name", (w) => w.str(m.Name)],
      ["Payload", (w) => w.bytesOrNil(m.Payload)], ["CC", (w) => w.bool(m.CC)],
    ];
    case "pushPull": return pushPullFields(m);
    case "query": return queryFields(m);
    case "queryResponse": return [
      ["LTime", (w) => w.uint(m.LTime)], ["ID", (w) => w.uint(m.ID)], ["From", (w) => w.str(m.From)],
      ["Flags", (w) => w.uint(m.Flags)], ["Payload", (w) => w.bytesOrNil(m.Payload)],
    ];
  }
}

function pushPullFields(m: SerfPushPull): GoField[] {
  return [
    ["LTime", (w) => w.uint(m.LTime)],
    ["StatusLTimes", (w) => {
      const names = Object.keys(m.StatusLTimes).sort();
      w.mapHeader(names.length);
      for (const n of names) w.str(n).uint(m.StatusLTimes[n]!);
    }],
    ["LeftMembers", (w) => {
      w.arrayHeader(m.LeftMembers.length);
      for (const n of m.LeftMembers) w.str(n);
    }],
    ["EventLTime", (w) => w.uint(m.EventLTime)],
    ["Events", (w) => {
      w.arrayHeader(m.Events.length);
      for (const e of m.Events) writeUserEvents(w, e);
    }],
    ["QueryLTime", (w) => w.uint(m.QueryLTime)],
  ];
}

function writeUserEvents(w: GoMsgpackWriter, e: SerfUserEvents | null): void {
  if (e === null) {
    w.nil();
    return;
  }
  w.struct([
    ["LTime", (ww) => ww.uint(e.LTime)],
    ["Events", (ww) => {
      ww.arrayHeader(e.Events.length);
      for (const ev of e.Events) ww.struct([["Name", (x) => x.str(ev.Name)], ["Payload", (x) => x.bytesOrNil(ev.Payload)]]);
    }],
  ]);
}

function queryFields(m: SerfQuery): GoField[] {
  return [
    ["LTime", (w) => w.uint(m.LTime)], ["ID", (w) => w.uint(m.ID)], ["Addr", (w) => w.bytesOrNil(m.Addr)],
    ["Port", (w) => w.uint(m.Port)], ["SourceNode", (w) => w.str(m.SourceNode)],
    ["Filters", (w) => {
      if (m.Filters.length === 0) return void w.nil();
      w.arrayHeader(m.Filters.length);
      for (const f of m.Filters) w.bytesOrNil(f);
    }],
    ["Flags", (w) => w.uint(m.Flags)], ["RelayFactor", (w) => w.uint(m.RelayFactor)],
    ["Timeout", (w) => w.int(m.Timeout)], ["Name", (w) => w.str(m.Name)], ["Payload", (w) => w.bytesOrNil(m.Payload)],
  ];
}

/** Decodes one Serf message; the payload-only types (conflict, key request and response) are "unsupported". */
export function decodeSerfMessage(buf: Uint8Array): SerfMessage {
  if (buf.length === 0) wireFail("empty", "serf message has no type byte");
  const t = buf[0]!;
  // Serf's decodeMessage reads one value and ignores what follows it; so do we.
  const body = (what: string): GoStructReader => new GoStructReader(decodeGoValuePrefix(buf.subarray(1), what).value, what);
  switch (t) {
    case SerfMsgType.join: {
      const r = body("serf join");
      return { type: "join", LTime: r.uint("LTime"), Node: r.str("Node") } satisfies SerfJoin;
    }
    case SerfMsgType.leave: {
      const r = body("serf leave");
      return { type: "leave", LTime: r.uint("LTime"), Node: r.str("Node"), Prune: r.bool("Prune") } satisfies SerfLeave;
    }
    case SerfMsgType.userEvent: {
      const r = body("serf user event");
      return { type: "userEvent", LTime: r.uint("LTime"), Name: r.str("Name"), Payload: r.bytes("Payload"), CC: r.bool("CC") };
    }
    case SerfMsgType.pushPull: return readPushPull(body("serf push/pull"));
    case SerfMsgType.query: return readQuery(body("serf query"));
    case SerfMsgType.queryResponse: {
      const value = decodeGoValuePrefix(buf.subarray(1), "serf query response").value;
      const r = new GoStructReader(value, "serf query response");
      // An ack's Payload is Go's nil slice: kept apart from an empty response so it re-encodes the same.
      const payload = (value as Record<string, unknown>)["Payload"];
      return {
        type: "queryResponse", LTime: r.uint("LTime"), ID: r.uint("ID", uint32Max), From: r.str("From"),
        Flags: r.uint("Flags", uint32Max), Payload: payload === undefined || payload === null ? null : r.bytes("Payload"),
      };
    }
    case SerfMsgType.relay: return decodeRelay(buf.subarray(1), decodeSerfMessage);
    default:
      // Conflict and key messages travel only inside query payloads (serf-query-codec.ts), never on their own.
      return wireFail(t <= SerfMsgType.relay ? "unsupported" : "unknown-type", `serf message type ${t}`);
  }
}

function readPushPull(r: GoStructReader): SerfPushPull {
  const statusLTimes: Record<string, number> = {};
  const statuses = new GoStructReader(r.map("StatusLTimes"), "serf push/pull StatusLTimes");
  for (const name of Object.keys(r.map("StatusLTimes"))) statusLTimes[name] = statuses.uint(name);
  const leftMembers = r.array("LeftMembers").map((n, i) => bytesToString(asBytes(n, `LeftMembers[${i}]`)));
  const events = r.array("Events").map((e, i) => readUserEvents(e, i));
  return {
    type: "pushPull", LTime: r.uint("LTime"), StatusLTimes: statusLTimes, LeftMembers: leftMembers,
    EventLTime: r.uint("EventLTime"), Events: events, QueryLTime: r.uint("QueryLTime"),
  };
}

function readUserEvents(value: unknown, index: number): SerfUserEvents | null {
  if (value === null) return null;
  const r = new GoStructReader(value, `serf push/pull Events[${index}]`);
  const events = r.array("Events").map((ev, j) => {
    const er = new GoStructReader(ev, `serf push/pull Events[${index}].Events[${j}]`);
    return { Name: er.str("Name"), Payload: er.bytes("Payload") };
  });
  return { LTime: r.uint("LTime"), Events: events };
}

function readQuery(r: GoStructReader): SerfQuery {
  return {
    type: "query", LTime: r.uint("LTime"), ID: r.uint("ID", uint32Max), Addr: r.bytes("Addr"),
    Port: r.uint("Port", uint16Max), SourceNode: r.str("SourceNode"),
    Filters: r.array("Filters").map((f, i) => asBytes(f, `serf query Filters[${i}]`)),
    Flags: r.uint("Flags", uint32Max), RelayFactor: r.uint("RelayFactor", 0xff), Timeout: r.int("Timeout"),
    Name: r.str("Name"), Payload: r.bytes("Payload"),
  };
}
