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
  const prefix = new Uint16Array(1 << widthMax);
  const suffix = new Uint8Array(1 << widthMax);
  const stack = new Uint8Array(1 << widthMax);
  let out = new Uint8Array(Math.min(Math.max(input.length * 4, 64), outputBytesMax));
  let outLength = 0;
  let width = widthMin;
  let hi = eofCode;
  let overflow = 1 << widthMin;
  let last = -1;
  let bits = 0;
  let bitCount = 0;
  let pos = 0;
  const emit = (from: number): void => {
    const n = stack.length - from;
    if (outLength + n > outputBytesMax) wireFail("oversized", `decompressed data exceeds ${outputBytesMax} bytes`);
    if (outLength + n > out.length) {
      const grown = new Uint8Array(Math.min(Math.max(out.length * 2, outLength + n), outputBytesMax));
      grown.set(out.subarray(0, outLength));
      out = grown;
    }
    out.set(stack.subarray(from), outLength);
    outLength += n;
  };
  for (;;) {
    while (bitCount < width) {
      if (pos >= input.length) wireFail("bad-compression", "lzw data ends without an end code");
      bits |= input[pos++]! << bitCount;
      bitCount += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    bitCount -= width;
    if (code === clearCode) {
      width = widthMin;
      hi = eofCode;
      overflow = 1 << widthMin;
      last = -1;
      continue;
    }
    if (code === eofCode) break;
    if (code > hi || (code === hi && last === -1)) wireFail("bad-compression", `lzw code ${code} above ${hi}`);
    let i = stack.length;
    let c = code;
    if (code === hi) {
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
    emit(i);
    if (last !== -1) {
      suffix[hi] = c;
      prefix[hi] = last;
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === widthMax) {
        last = -1;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
  return out.slice(0, outLength);
}
