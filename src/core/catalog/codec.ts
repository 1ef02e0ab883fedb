/**
 * Small pure codecs the catalog needs without Node's Buffer: Go duration strings (Consul's
 * `TTL: "15.0s"`, `LockDelay: "0.001s"`) and base64 (Consul's JSON carries KV values as base64).
 */
import { assert } from "../util/assert.ts";

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const durationPart = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/**
 * Parses Go's `time.ParseDuration` syntax ("1h30m", "15.0s", "0.001s", "-5s") into milliseconds.
 * Returns null for anything Go would reject, so the caller can answer with a clear error.
 */
export function parseGoDurationMs(text: string): number | null {
  let rest = text.trim();
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  // Go accepts a bare "0" and nothing else without a unit.
  if (rest === "0") return 0;
  if (rest === "") return null;
  let totalMs = 0;
  while (rest !== "") {
    const match = durationPart.exec(rest);
    if (match === null) return null;
    totalMs += Number(match[1]) * unitMs[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return sign * totalMs;
}

/**
 * Formats milliseconds the way Go's `time.Duration.String()` does for whole seconds and above
 * ("10s", "24h0m0s", "1m30s") and as "Nms" below a second; Consul's error texts embed these.
 */
export function formatGoDuration(ms: number): string {
  assert(Number.isFinite(ms), `formatGoDuration: ms ${ms} is not finite`);
  if (ms === 0) return "0s";
  if (Math.abs(ms) < 1000) return `${ms}ms`;
  const sign = ms < 0 ? "-" : "";
  const totalS = Math.abs(ms) / 1000;
  const hours = Math.floor(totalS / 3600);
  const minutes = Math.floor((totalS - hours * 3600) / 60);
  const seconds = totalS - hours * 3600 - minutes * 60;
  const secondsText = `${Number(seconds.toFixed(9))}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${sign}${minutes}m${secondsText}`;
  return `${sign}${secondsText}`;
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const reverse = new Map<string, number>([...alphabet].map((ch, i) => [ch, i]));
// URL-safe letters are accepted on input because some clients send them.
reverse.set("-", 62);
reverse.set("_", 63);

export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    const b1 = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    const b2 = i + 2 < bytes.length ? bytes[i + 2]! : 0;
    const triple = (b0 << 16) | (b1 << 8) | b2;
    out += alphabet[(triple >> 18) & 63]! + alphabet[(triple >> 12) & 63]!;
    out += i + 1 < bytes.length ? alphabet[(triple >> 6) & 63]! : "=";
    out += i + 2 < bytes.length ? alphabet[triple & 63]! : "=";
  }
  return out;
}

/** Decodes standard or URL-safe base64, padded or not; returns null on a stray character. */
export function decodeBase64(text: string): Uint8Array | null {
  const clean = text.replace(/[\s=]+/g, "");
  if (clean.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let bitCount = 0;
  let written = 0;
  for (const ch of clean) {
    const value = reverse.get(ch);
    if (value === undefined) return null;
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      out[written++] = (bits >> bitCount) & 0xff;
    }
  }
  assert(written === out.length, () => `decodeBase64: wrote ${written} of ${out.length} bytes`);
  return out;
}

export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
