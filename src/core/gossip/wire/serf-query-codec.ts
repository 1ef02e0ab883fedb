/**
 * The bytes inside Serf queries (hashicorp/serf serf/messages.go, query.go, internal_query.go):
 * query filters, the relay header, and the payloads of Serf's internal queries: the key request and
 * nodeKeyResponse of the keyring queries, and the Member record a `_serf_conflict` query answers
 * with. Each payload is a Serf message type byte, then a go-msgpack struct, as Serf encodes them.
 */
import type { SerfMessage, SerfRelay } from "../messages.ts";
import { SerfMsgType } from "../messages.ts";
import { wireFail } from "./errors.ts";
import {
  type GoField, type GoMsgpackFlavor, GoMsgpackWriter, GoStructReader, asBytes, bytesToString, decodeGoValuePrefix,
} from "./gomsgpack.ts";

/** Serf's filterType byte. */
export const QueryFilterType = { node: 0, tag: 1 } as const;

export type QueryFilter =
  | { readonly kind: "node"; readonly names: readonly string[] }
  /** Expr is a regular expression matched (unanchored) against the tag's value. */
  | { readonly kind: "tag"; readonly tag: string; readonly expr: string };

/** One filter as Serf's encodeFilter writes it: the type byte, then a []string or filterTag. */
export function encodeQueryFilter(f: QueryFilter, flavor?: GoMsgpackFlavor): Uint8Array {
  const w = new GoMsgpackWriter(flavor);
  if (f.kind === "node") {
    w.byte(QueryFilterType.node).arrayHeader(f.names.length);
    for (const n of f.names) w.str(n);
  } else {
    w.byte(QueryFilterType.tag).struct([["Tag", (x) => x.str(f.tag)], ["Expr", (x) => x.str(f.expr)]]);
  }
  return w.finish();
}

export function decodeQueryFilter(buf: Uint8Array): QueryFilter {
  if (buf.length === 0) wireFail("empty", "query filter has no type byte");
  const value = decodeGoValuePrefix(buf.subarray(1), "query filter").value;
  switch (buf[0]) {
    case QueryFilterType.node: {
      if (value !== null && !Array.isArray(value)) wireFail("bad-field", "node filter: expected an array of names");
      const names = ((value ?? []) as unknown[]).map((n, i) => bytesToString(asBytes(n, `node filter[${i}]`)));
      return { kind: "node", names };
    }
    case QueryFilterType.tag: {
      const r = new GoStructReader(value, "tag filter");
      return { kind: "tag", tag: r.str("Tag"), expr: r.str("Expr") };
    }
    default:
      return wireFail("unknown-type", `query filter type ${buf[0]}`);
  }
}

/** The relay header (Go's relayHeader{DestAddr net.UDPAddr, DestName string}); the wrapped message follows it. */
export function relayHeaderFields(m: SerfRelay): GoField[] {
  return [
    ["DestAddr", (w) => w.struct([["IP", (x) => x.bytesOrNil(m.DestAddr.IP)], ["Port", (x) => x.int(m.DestAddr.Port)], ["Zone", (x) => x.str(m.DestAddr.Zone)]])],
    ["DestName", (w) => w.str(m.DestName)],
  ];
}

/** Reads a relay's header and the wrapped message (`decodeInner` decodes a Serf message). */
export function decodeRelay(body: Uint8Array, decodeInner: (buf: Uint8Array) => SerfMessage): SerfRelay {
  const { value, byteLength } = decodeGoValuePrefix(body, "serf relay header");
  const r = new GoStructReader(value, "serf relay header");
  const addr = new GoStructReader(r.map("DestAddr"), "serf relay header.DestAddr");
  const ip = addr.bytes("IP");
  if (ip.length !== 4 && ip.length !== 16) wireFail("bad-field", `serf relay header: destination IP of ${ip.length} bytes`);
  const port = addr.int("Port");
  if (port <= 0 || port > 0xffff) wireFail("bad-field", `serf relay header: destination port ${port}`);
  const inner = body.subarray(byteLength);
  if (inner.length === 0) wireFail("truncated", "serf relay carries no message");
  if (inner[0] === SerfMsgType.relay) wireFail("bad-field", "serf relay wraps another relay");
  return { type: "relay", DestAddr: { IP: ip, Port: port, Zone: addr.str("Zone") }, DestName: r.str("DestName"), Msg: decodeInner(inner) };
}

/** A keyring query's payload: Serf's keyRequest{Key []byte} after its messageKeyRequestType byte. */
export function encodeKeyRequest(key: Uint8Array, flavor?: GoMsgpackFlavor): Uint8Array {
  return new GoMsgpackWriter(flavor).byte(SerfMsgType.keyRequest).struct([["Key", (w) => w.bytesOrNil(key)]]).finish();
}

/** The key of a keyring query's payload. Serf skips the type byte without reading it; so do we. */
export function decodeKeyRequest(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) wireFail("empty", "key request has no type byte");
  return new GoStructReader(decodeGoValuePrefix(payload.subarray(1), "key request").value, "key request").bytes("Key");
}

/** Serf's nodeKeyResponse: one member's answer to a keyring query. */
export interface NodeKeyResponse {
  readonly Result: boolean;
  readonly Message: string;
  /** Base64 keys (list-keys only); empty is Go's nil slice. */
  readonly Keys: readonly string[];
  readonly PrimaryKey: string;
}

export function encodeKeyResponse(r: NodeKeyResponse, flavor?: GoMsgpackFlavor): Uint8Array {
  return new GoMsgpackWriter(flavor).byte(SerfMsgType.keyResponse).struct([
    ["Result", (w) => w.bool(r.Result)], ["Message", (w) => w.str(r.Message)],
    ["Keys", (w) => {
      if (r.Keys.length === 0) return void w.nil();
      w.arrayHeader(r.Keys.length);
      for (const k of r.Keys) w.str(k);
    }],
    ["PrimaryKey", (w) => w.str(r.PrimaryKey)],
  ]).finish();
}

export function decodeKeyResponse(payload: Uint8Array): NodeKeyResponse {
  if (payload.length === 0 || payload[0] !== SerfMsgType.keyResponse) {
    wireFail("unknown-type", `key response type byte ${payload.length === 0 ? "missing" : payload[0]}`);
  }
  const r = new GoStructReader(decodeGoValuePrefix(payload.subarray(1), "key response").value, "key response");
  return {
    Result: r.bool("Result"), Message: r.str("Message"),
    Keys: r.array("Keys").map((k, i) => bytesToString(asBytes(k, `key response Keys[${i}]`))), PrimaryKey: r.str("PrimaryKey"),
  };
}

/** Serf's Member, as a `_serf_conflict` answer carries it (Status: 1 alive, 2 leaving, 3 left, 4 failed). */
export interface SerfMemberRecord {
  readonly Name: string;
  readonly Addr: Uint8Array;
  readonly Port: number;
  readonly Tags: Readonly<Record<string, string>>;
  readonly Status: number;
  readonly ProtocolMin: number;
  readonly ProtocolMax: number;
  readonly ProtocolCur: number;
  readonly DelegateMin: number;
  readonly DelegateMax: number;
  readonly DelegateCur: number;
}

/** The answer to `_serf_conflict`: the member we know by that name, or nil when none. */
export function encodeConflictResponse(m: SerfMemberRecord | null, flavor?: GoMsgpackFlavor): Uint8Array {
  const w = new GoMsgpackWriter(flavor).byte(SerfMsgType.conflictResponse);
  if (m === null) return w.nil().finish();
  return w.struct([
    ["Name", (x) => x.str(m.Name)], ["Addr", (x) => x.bytesOrNil(m.Addr)], ["Port", (x) => x.uint(m.Port)],
    ["Tags", (x) => {
      const keys = Object.keys(m.Tags).sort();
      x.mapHeader(keys.length);
      for (const k of keys) x.str(k).str(m.Tags[k]!);
    }],
    ["Status", (x) => x.int(m.Status)],
    ["ProtocolMin", (x) => x.uint(m.ProtocolMin)], ["ProtocolMax", (x) => x.uint(m.ProtocolMax)], ["ProtocolCur", (x) => x.uint(m.ProtocolCur)],
    ["DelegateMin", (x) => x.uint(m.DelegateMin)], ["DelegateMax", (x) => x.uint(m.DelegateMax)], ["DelegateCur", (x) => x.uint(m.DelegateCur)],
  ]).finish();
}

export function decodeConflictResponse(payload: Uint8Array): SerfMemberRecord | null {
  if (payload.length === 0 || payload[0] !== SerfMsgType.conflictResponse) wireFail("unknown-type", "not a conflict response");
  const value = decodeGoValuePrefix(payload.subarray(1), "conflict response").value;
  if (value === null) return null;
  const r = new GoStructReader(value, "conflict response");
  const tagsMap = r.map("Tags");
  const tagReader = new GoStructReader(tagsMap, "conflict response Tags");
  const tags: Record<string, string> = {};
  for (const k of Object.keys(tagsMap)) tags[k] = tagReader.str(k);
  const u8 = (name: string): number => r.uint(name, 0xff);
  return {
    Name: r.str("Name"), Addr: r.bytes("Addr"), Port: r.uint("Port", 0xffff), Tags: tags, Status: r.int("Status"),
    ProtocolMin: u8("ProtocolMin"), ProtocolMax: u8("ProtocolMax"), ProtocolCur: u8("ProtocolCur"),
    DelegateMin: u8("DelegateMin"), DelegateMax: u8("DelegateMax"), DelegateCur: u8("DelegateCur"),
  };
}
