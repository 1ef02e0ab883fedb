/**
 * Check output limits, exactly as Consul words them. Output is measured in bytes of UTF-8, as
 * Go's `len(string)` does; a cut never splits a character.
 *
 * - Script (and docker) output goes through a ring buffer that keeps the *last* `maxBytes`
 *   bytes written; when more was written the output starts
 *   `Captured <kept> of <total> bytes\n...\n` (Consul's `CheckMonitor`).
 * - HTTP bodies go through the same ring buffer but Consul adds no marker.
 * - TTL updates keep the *first* `maxBytes` bytes and append
 *   ` ... (captured <kept> of <total> bytes)` (Consul's `CheckTTL.SetStatus`).
 */
import { assert } from "../util/assert.ts";

/** Consul's `checks.DefaultBufSize`: 4 KiB of output per check. */
export const outputMaxBytesDefault = 4 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** A UTF-8 continuation byte (10xxxxxx) cannot start a character. */
function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Keeps the last `capacityBytes` bytes of everything written, and counts everything written.
 * Invariant: kept() <= capacityBytes and kept() <= totalWritten.
 */
export class TailBuffer {
  private readonly ring: Uint8Array;
  private start = 0;
  private length = 0;
  totalWritten = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isInteger(capacityBytes) && capacityBytes > 0, `TailBuffer capacity ${capacityBytes} must be a positive integer`);
    this.ring = new Uint8Array(capacityBytes);
  }

  write(chunk: Uint8Array): void {
    this.totalWritten += chunk.length;
    const cap = this.capacityBytes;
    // Only the last `cap` bytes of a large chunk can survive.
    const from = chunk.length > cap ? chunk.length - cap : 0;
    for (let i = from; i < chunk.length; i++) {
      const at = (this.start + this.length) % cap;
      this.ring[at] = chunk[i]!;
      if (this.length < cap) this.length++;
      else this.start = (this.start + 1) % cap;
    }
    assert(this.length <= cap && this.length <= this.totalWritten, `TailBuffer kept ${this.length} of ${this.totalWritten} with capacity ${cap}`);
  }

  kept(): number {
    return this.length;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.ring[(this.start + i) % this.capacityBytes]!;
    return out;
  }

  /** The kept bytes as text, dropping a character the ring cut in half at its start. */
  text(): string {
    const bytes = this.bytes();
    let skip = 0;
    if (this.totalWritten > this.length) while (skip < bytes.length && isContinuation(bytes[skip]!)) skip++;
    return decoder.decode(bytes.subarray(skip));
  }

  truncated(): boolean {
    return this.totalWritten > this.length;
  }
}

/** Consul's script output: the tail, with its `Captured N of M bytes` marker when cut. */
export function capturedOutput(buffer: TailBuffer): string {
  const text = buffer.text();
  if (!buffer.truncated()) return text;
  return `Captured ${buffer.kept()} of ${buffer.totalWritten} bytes\n...\n${text}`;
}

/** Consul's TTL output: the head, with its ` ... (captured N of M bytes)` marker when cut. */
export function truncateTtlOutput(output: string, maxBytes: number): string {
  assert(Number.isInteger(maxBytes) && maxBytes > 0, `TTL output limit ${maxBytes} must be a positive integer`);
  const bytes = encoder.encode(output);
  if (bytes.length <= maxBytes) return output;
  let end = maxBytes;
  while (end > 0 && isContinuation(bytes[end]!)) end--;
  const head = decoder.decode(bytes.subarray(0, end));
  return `${head} ... (captured ${maxBytes} of ${bytes.length} bytes)`;
}

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}
