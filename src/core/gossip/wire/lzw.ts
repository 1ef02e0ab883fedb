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

/** A push/pull may compress megabytes; only scratch space for packets is kept between calls. */
const writerScratchKeptBytesMax = 64 * 1024;
let writerScratch = new Uint8Array(2048);

class BitWriter {
  private out: Uint8Array;
  private length = 0;
  private bits = 0;
  private bitCount = 0;

  constructor(inputBytes: number) {
    // Codes are at least 9 bits per literal at worst, so this rarely grows. Built in a shared
    // scratch buffer (compression never re-enters), copied out by finish().
    const bytes = 16 + inputBytes + (inputBytes >> 2);
    if (bytes > writerScratchKeptBytesMax) this.out = new Uint8Array(bytes);
    else {
      if (writerScratch.length < bytes) writerScratch = new Uint8Array(writerScratchKeptBytesMax);
      this.out = writerScratch;
    }
  }

  write(code: number, width: number): void {
    this.bits |= code << this.bitCount;
    this.bitCount += width;
    while (this.bitCount >= 8) {
      if (this.length === this.out.length) this.grow();
      this.out[this.length++] = this.bits & 0xff;
      this.bits >>>= 8;
      this.bitCount -= 8;
    }
  }

  finish(): Uint8Array {
    if (this.bitCount > 0) {
      if (this.length === this.out.length) this.grow();
      this.out[this.length++] = this.bits & 0xff;
    }
    return this.out.slice(0, this.length);
  }

  private grow(): void {
    const grown = new Uint8Array(this.out.length * 2);
    grown.set(this.out);
    this.out = grown;
  }
}

/**
 * The writer's dictionary, as Go's lzw.Writer keeps it: an open-addressed table of
 * (prefix code << 8 | literal) << 12 | code, 0 for empty (codes in it are all above 257). One
 * table serves every call (compression never calls out, so it is never re-entered).
 */
const tableSize = 4 << widthMax;
const tableMask = tableSize - 1;
const table = new Uint32Array(tableSize);
/**
 * The slots filled since the table was last cleared: clearing only those costs a few writes for a
 * packet of tens of bytes, where filling all 64 KiB of the table cost more than compressing it.
 */
const filled = new Uint16Array(1 << widthMax);
let filledCount = 0;

function clearTable(): void {
  for (let i = 0; i < filledCount; i++) table[filled[i]!] = 0;
  filledCount = 0;
}

export function lzwCompress(input: Uint8Array): Uint8Array {
  const w = new BitWriter(input.length);
  let width = widthMin;
  let hi = eofCode;
  let overflow = 1 << widthMin;
  clearTable();
  w.write(clearCode, width);
  if (input.length === 0) {
    w.write(eofCode, width);
    return w.finish();
  }
  /** Advances the next implied code; false when the codes ran out and everything was cleared. */
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi !== codeMax) return true;
    w.write(clearCode, width);
    width = widthMin;
    hi = eofCode;
    overflow = 1 << widthMin;
    clearTable();
    return false;
  };
  let code = input[0]!;
  next: for (let i = 1; i < input.length; i++) {
    const literal = input[i]!;
    const key = (code << 8) | literal;
    let hash = ((key >>> 12) ^ key) & tableMask;
    for (let h = hash, t = table[hash]!; t !== 0; t = table[h]!) {
      if (key === t >>> 12) {
        code = t & codeMax;
        continue next;
      }
      h = (h + 1) & tableMask;
    }
    w.write(code, width);
    code = literal;
    if (!incHi()) continue;
    while (table[hash] !== 0) hash = (hash + 1) & tableMask;
    table[hash] = ((key << 12) | hi) >>> 0;
    filled[filledCount++] = hash;
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
/**
 * The reader's tables, shared: decompression never calls out, so it is never re-entered, and every
 * entry it reads was written earlier in the same stream (codes above the last defined are refused).
 */
const readerPrefix = new Uint16Array(1 << widthMax);
const readerSuffix = new Uint8Array(1 << widthMax);
/** Expansions are written backwards into the end of this scratch space. */
const readerStack = new Uint8Array((1 << widthMax) + 1);
const readerOut = new Uint8Array(16 * 1024);

class LzwReader {
  private readonly prefix = readerPrefix;
  private readonly suffix = readerSuffix;
  private readonly stack = readerStack;
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
    const bytes = Math.min(Math.max(input.length * 4, 64), outputBytesMax);
    // A packet's worth is inflated in shared scratch space and copied out by run().
    this.out = bytes <= readerOut.length ? readerOut : new Uint8Array(bytes);
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
