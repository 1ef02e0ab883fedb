import type { MemberlistMessage, SerfMessage } from "./messages.ts";

/**
 * Encoded-size estimates, in bytes, of messages as go-msgpack writes them (a map keyed by field
 * name). The core uses them to cut piggybacked broadcasts to a packet's size; they may be a few
 * bytes off the codec's exact figure, so the budget keeps a margin (see node.ts).
 */
function str(s: string): number {
  return s.length + (s.length < 32 ? 1 : s.length < 256 ? 2 : 3);
}

function raw(b: Uint8Array | null | undefined): number {
  const n = b === undefined || b === null ? 0 : b.length;
  return n + (n < 32 ? 1 : n < 256 ? 2 : 3);
}

function uint(n: number): number {
  return n < 128 ? 1 : n < 256 ? 2 : n < 65_536 ? 3 : n < 4_294_967_296 ? 5 : 9;
}

function field(name: string, valueBytes: number): number {
  return str(name) + valueBytes;
}

export function serfMessageBytes(m: SerfMessage): number {
  switch (m.type) {
    case "join":
      return 2 + field("LTime", uint(m.LTime)) + field("Node", str(m.Node));
    case "leave":
      return 2 + field("LTime", uint(m.LTime)) + field("Node", str(m.Node)) + field("Prune", 1);
    case "userEvent":
      return 2 + field("LTime", uint(m.LTime)) + field("Name", str(m.Name)) + field("Payload", raw(m.Payload)) + field("CC", 1);
    case "queryResponse":
      return 2 + field("LTime", uint(m.LTime)) + field("ID", 5) + field("From", str(m.From)) + field("Flags", 5) + field("Payload", raw(m.Payload));
    case "query":
      return 64 + str(m.SourceNode) + str(m.Name) + raw(m.Payload) + m.Filters.reduce((a, f) => a + raw(f), 0);
    case "relay":
      return 2 + field("DestAddr", 3 + field("IP", raw(m.DestAddr.IP)) + field("Port", 3) + field("Zone", str(m.DestAddr.Zone)))
        + field("DestName", str(m.DestName)) + 1 + serfMessageBytes(m.Msg);
    case "pushPull":
      return 64 + Object.keys(m.StatusLTimes).reduce((a, k) => a + str(k) + 5, 0) + m.LeftMembers.reduce((a, k) => a + str(k), 0);
  }
}

export function messageBytes(m: MemberlistMessage): number {
  switch (m.type) {
    case "ping":
      return 2 + field("SeqNo", 5) + field("Node", str(m.Node)) + field("SourceAddr", raw(m.SourceAddr)) + field("SourcePort", 3) + field("SourceNode", str(m.SourceNode ?? ""));
    case "indirectPing":
      return 2 + field("SeqNo", 5) + field("Target", raw(m.Target)) + field("Port", 3) + field("Node", str(m.Node)) + field("Nack", 1) + field("SourceAddr", raw(m.SourceAddr)) + field("SourcePort", 3) + field("SourceNode", str(m.SourceNode ?? ""));
    case "ackResp":
      return 2 + field("SeqNo", 5) + field("Payload", raw(m.Payload));
    case "nackResp":
      return 2 + field("SeqNo", 5);
    case "err":
      return 2 + field("Error", str(m.Error));
    case "suspect":
    case "dead":
      return 2 + field("Incarnation", uint(m.Incarnation)) + field("Node", str(m.Node)) + field("From", str(m.From));
    case "alive":
      return 2 + field("Incarnation", uint(m.Incarnation)) + field("Node", str(m.Node)) + field("Addr", raw(m.Addr)) + field("Port", 3) + field("Meta", raw(m.Meta)) + field("Vsn", 7);
    case "user":
      return 1 + serfMessageBytes(m.Msg);
    case "pushPull":
      return 32 + m.Nodes.reduce((a, n) => a + 40 + str(n.Name) + raw(n.Addr) + raw(n.Meta) + 14, 0) + (m.UserState === null ? 0 : serfMessageBytes(m.UserState));
  }
}
