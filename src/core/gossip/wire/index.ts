/**
 * The gossip wire codec: memberlist's and Serf's bytes for the decoded records of ../messages.ts.
 * Pure (Uint8Array and DataView only), so the simulator can push every message through it.
 */
import { assert } from "../../util/assert.ts";
import type { MemberlistMessage } from "../messages.ts";
import { wireFail } from "./errors.ts";
import type { GoMsgpackFlavor } from "./gomsgpack.ts";
import type { PacketMessage } from "./memberlist-codec.ts";
import { decodePacket, encodePackets } from "./packet.ts";
import { decodeStream, encodeStream } from "./stream.ts";

export { WireError, type WireErrorReason } from "./errors.ts";
export { type GoMsgpackFlavor, goMsgpackFlavorDefault } from "./gomsgpack.ts";
export { type PacketMessage, decodeMessage, encodeMessage } from "./memberlist-codec.ts";
export {
  type DecodedPacket, type PacketDecodeOptions, type PacketEncodeOptions, decodePacket, encodePackets, udpPacketBytesDefault,
} from "./packet.ts";
export { type StreamOptions, decodeStream, encodeStream } from "./stream.ts";
export {
  decodePingPayload, decodeSerfMessage, decodeTags, encodePingPayload, encodeSerfMessage, encodeTags, metaMaxBytes,
} from "./serf-codec.ts";

/**
 * What the receiver decodes from the bytes the sender would put on the wire: the simulator's
 * `--wire` mode passes every packet through this. UDP messages are packed into packets of at most
 * `packetBytesMax` (several packets when they do not fit one); each stream message is encoded and
 * decoded on its own. Throws WireError when a message cannot be encoded (too large for a packet).
 */
export function throughWire(
  msgs: readonly MemberlistMessage[],
  via: "udp" | "tcp" | "tcp-reply",
  options: { packetBytesMax?: number; flavor?: GoMsgpackFlavor } = {},
): MemberlistMessage[] {
  if (via !== "udp") {
    return msgs.map((m) => {
      const bytes = encodeStream(m, { flavor: options.flavor });
      const found = decodeStream(bytes);
      assert(found !== null && found.byteLength === bytes.length && found.msg !== null, `stream codec lost a ${m.type} message`);
      return found.msg;
    });
  }
  const packetMsgs = msgs.map((m): PacketMessage => (m.type === "pushPull" ? wireFail("unsupported", "push/pull over UDP") : m));
  const packets = encodePackets(packetMsgs, { packetBytesMax: options.packetBytesMax, flavor: options.flavor });
  return packets.flatMap((p) => decodePacket(p).msgs);
}
