/**
 * LZW as Go's compress/lzw does it with LSB bit order and 8-bit literals, the only algorithm of
 * memberlist's compress message (lzwAlgo = 0). Codes start 9 bits wide and grow to 12; code 256
 * clears the table and 257 ends the stream. The writer opens with a clear code, as Go's does, so the
 * bytes match what memberlist sends.
 */
import { wireFail } from "./errors.ts";

const literalCount = 256;
const clearCode = literalCount;
const eofCode = literalCount + 1;
const widthMin = 9;
const widthMax = 12;
const codeMax = (1 << widthMax) - 1;

class BitWriter {
  private out: number[] = [];
  private bits = 0;
  private bitCount = 0;

  write(code: number, width: number): void {
    this.bits |= code << this.bitCount;
    this.bitCount += width;
    while (this.bitCount >= 8) {
      this.out.push(this.bits & 0xff);
      this.bits >>>= 8;
      this.bitCount -= 8;
    }
  }

  finish(): Uint8Array {
    if (this.bitCount > 0) this.out.push(this.bits & 0xff);
    return Uint8Array.from(this.out);
  }
}

export function lzwCompress(input: Uint8Array): Uint8Array {
  const w = new BitWriter();
  let width = widthMin;
  let hi = eofCode;
  let overflow = 1 << widthMin;
  let table = new Map<number, number>();
  w.write(clearCode, width);
  if (input.length === 0) {
    w.write(eofCode, width);
    return w.finish();
  }
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi !== codeMax) return false;
    w.write(clearCode, width);
    width = widthMin;
    hi = eofCode;
    overflow = 1 << widthMin;
    table = new Map();
    return true;
  };
  let code = input[0]!;
  for (let i = 1; i < input.length; i++) {
    const literal = input[i]!;
    const key = (code << 8) | literal;
    const hit = table.get(key);
    if (hit !== undefined) {
      code = hit;
      continue;
    }
    w.write(code, width);
    code = literal;
    if (!incHi()) table.set(key, hi);
  }
  w.write(code, width);
  incHi();
  w.write(eofCode, width);
  return w.finish();
}

/** Inverse of lzwCompress; refuses output above `outputBytesMax` (a decompression bomb). */
export function lzwDecompress(input: Uint8Array, outputBytesMax: number): Uint8Array {
  return new LzwReader(input, outputBytesMax).run();
}

/** Go's lzw.Reader, LSB order, 8-bit literals: a code table of prefix/suffix chains. */
class LzwReader {
  private readonly prefix = new Uint16Array(1 << widthMax);
  private readonly suffix = new Uint8Array(1 << widthMax);
  /** Expansions are written backwards into the end of this scratch space. */
  private readonly stack = new Uint8Array((1 << widthMax) + 1);
  private out: Uint8Array;
  private outLength = 0;
  private width = widthMin;
  private hi = eofCode;
  private overflow = 1 << widthMin;
  private last = -1;
  private bits = 0;
  private bitCount = 0;
  private pos = 0;

  constructor(private readonly input: Uint8Array, private readonly outputBytesMax: number) {
    this.out = new Uint8Array(Math.min(Math.max(input.length * 4, 64), outputBytesMax));
  }

  run(): Uint8Array {
    for (;;) {
      const code = this.readCode();
      if (code === clearCode) {
        this.width = widthMin;
        this.hi = eofCode;
        this.overflow = 1 << widthMin;
        this.last = -1;
        continue;
      }
      if (code === eofCode) return this.out.slice(0, this.outLength);
      this.expand(code);
      this.last = code;
      this.hi++;
      if (this.hi < this.overflow) continue;
      if (this.width === widthMax) {
        // The table is full: codes stop being added until the writer sends a clear code.
        this.last = -1;
        this.hi--;
      } else {
        this.width++;
        this.overflow = 1 << this.width;
      }
    }
  }

  private readCode(): number {
    while (this.bitCount < this.width) {
      if (this.pos >= this.input.length) wireFail("bad-compression", "lzw data ends without an end code");
      this.bits |= this.input[this.pos++]! << this.bitCount;
      this.bitCount += 8;
    }
    const code = this.bits & ((1 << this.width) - 1);
    this.bits >>>= this.width;
    this.bitCount -= this.width;
    return code;
  }

  /** Appends what `code` stands for, and records hi = expansion(last) + first byte of this one. */
  private expand(code: number): void {
    const { prefix, suffix, stack, last, hi } = this;
    if (code > hi || (code === hi && last === -1)) wireFail("bad-compression", `lzw code ${code} above ${hi}`);
    let i = stack.length;
    let c = code;
    if (code === hi) {
      // The code being defined right now: last's expansion followed by its own first byte.
      let head = last;
      while (head >= clearCode) head = prefix[head]!;
      stack[--i] = head;
      c = last;
    }
    while (c >= clearCode) {
      stack[--i] = suffix[c]!;
      c = prefix[c]!;
    }
    stack[--i] = c;
    this.emit(stack.subarray(i));
    if (last !== -1) {
      suffix[hi] = c;
      prefix[hi] = last;
    }
  }

  private emit(bytes: Uint8Array): void {
    const needed = this.outLength + bytes.length;
    if (needed > this.outputBytesMax) wireFail("oversized", `decompressed data exceeds ${this.outputBytesMax} bytes`);
    if (needed > this.out.length) {
      const grown = new Uint8Array(Math.min(Math.max(this.out.length * 2, needed), this.outputBytesMax));
      grown.set(this.out.subarray(0, this.outLength));
      this.out = grown;
    }
    this.out.set(bytes, this.outLength);
    this.outLength = needed;
  }
}
