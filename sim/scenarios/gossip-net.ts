import type { OutPacket } from "../../src/core/gossip/events.ts";
import type { MemberlistMessage } from "../../src/core/gossip/messages.ts";
import { messageBytes } from "../../src/core/gossip/size.ts";
import { decodePacket, encodePackets } from "../../src/core/gossip/wire/packet.ts";
import type { PacketMessage } from "../../src/core/gossip/wire/memberlist-codec.ts";
import { decodeStream, encodeStream } from "../../src/core/gossip/wire/stream.ts";
import type { WorldRng } from "../world/rng.ts";

/** A packet's messages as they will arrive: decoded objects, or bytes through the real codec (`--wire`). */
export type Payload = { readonly kind: "msgs"; readonly msgs: readonly MemberlistMessage[] } | { readonly kind: "bytes"; readonly via: "udp" | "stream"; readonly bufs: readonly Uint8Array[] };

/** Encodes a packet for the wire, or passes it through; returns the payload and its size in bytes. */
export function encodeOut(p: OutPacket, wire: boolean): { payload: Payload; bytes: number; datagrams: number } {
  if (!wire) {
    let bytes = p.via === "udp" ? 2 + 28 : 40; // compound header + IP/UDP headers, or a TCP exchange's headers
    for (const m of p.msgs) bytes += messageBytes(m) + 2;
    return { payload: { kind: "msgs", msgs: p.msgs }, bytes, datagrams: 1 };
  }
  if (p.via === "udp") {
    const bufs = encodePackets(p.msgs as PacketMessage[]);
    return { payload: { kind: "bytes", via: "udp", bufs }, bytes: bufs.reduce((a, b) => a + b.length + 28, 0), datagrams: bufs.length };
  }
  const bufs = p.msgs.map((m) => encodeStream(m));
  return { payload: { kind: "bytes", via: "stream", bufs }, bytes: bufs.reduce((a, b) => a + b.length + 40, 0), datagrams: 1 };
}

/** The messages of a payload on arrival. Throws if the codec cannot read what it wrote. */
export function decodeIn(payload: Payload): readonly MemberlistMessage[] {
  if (payload.kind === "msgs") return payload.msgs;
  const out: MemberlistMessage[] = [];
  for (const buf of payload.bufs) {
    if (payload.via === "udp") {
      const d = decodePacket(buf);
      if (d.partErrors.length > 0) throw new Error(`wire: ${d.partErrors.length} undecodable parts: ${d.partErrors[0]!.message}`);
      out.push(...d.msgs);
    } else {
      const d = decodeStream(buf);
      if (d === null) throw new Error("wire: a stream message did not decode whole");
      if (d.msg !== null) out.push(d.msg);
    }
  }
  return out;
}

/** Network conditions in force: the worst of the active impairments. */
export interface Conditions {
  lossRate: number;
  dupRate: number;
  reorderRate: number;
  tailMeanMs: number;
  extraDelayMs: number;
}

export function calm(baseLossRate: number): Conditions {
  return { lossRate: baseLossRate, dupRate: 0, reorderRate: 0, tailMeanMs: 0, extraDelayMs: 0 };
}

/** One-way delay of a packet under the conditions; slow ends add their own lag. */
export function delayOf(rng: WorldRng, c: Conditions, baseMinMs: number, baseMaxMs: number, slowLagMs: number): number {
  let ms = rng.uniform(baseMinMs, baseMaxMs) + c.extraDelayMs;
  if (c.reorderRate > 0 && rng.chance(c.reorderRate)) ms += -Math.log(1 - rng.next()) * c.tailMeanMs;
  if (slowLagMs > 0) ms += rng.uniform(0, slowLagMs);
  return Math.round(ms * 1000) / 1000;
}

/**
 * Active partitions, each a side per member (0 or 1) and whether only side 1 -> side 0 is cut
 * (one-way). A link is blocked when any active partition separates its ends.
 */
export class Partitions {
  private readonly active = new Map<number, { side: Uint8Array; oneway: boolean }>();

  add(id: number, side: Uint8Array, oneway: boolean): void {
    this.active.set(id, { side, oneway });
  }

  remove(id: number): void {
    this.active.delete(id);
  }

  clear(): void {
    this.active.clear();
  }

  get size(): number {
    return this.active.size;
  }

  blocked(from: number, to: number): boolean {
    for (const p of this.active.values()) {
      const a = p.side[from]!;
      const b = p.side[to]!;
      if (a === b) continue;
      if (!p.oneway || (a === 1 && b === 0)) return true;
    }
    return false;
  }
}
