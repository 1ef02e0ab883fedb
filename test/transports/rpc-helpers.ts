/** Shared pieces of the RPC port tests: a logger that records, raw sockets, and waiting. */
import net from "node:net";
import type { Logger, LogLevel } from "../../src/transports/rpc/conn.ts";

export interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export function recordingLogger(): { logger: Logger; lines: LogLine[]; reasons: () => string[] } {
  const lines: LogLine[] = [];
  return {
    logger: (level, msg, fields) => lines.push({ level, msg, fields }),
    lines,
    reasons: () => lines.filter((l) => l.level === "warn").map((l) => String(l.fields.reason ?? l.msg)),
  };
}

export async function eventually<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Dials `port` on 127.0.0.1, writes `bytes` (and half-closes when `end`), and resolves with how
 * the server ended the connection: "closed" when it hung up on us within `timeoutMs`, "open" if not.
 * The wait is generous because a loaded test machine can stall a process for seconds.
 */
export function rawExchange(port: number, bytes: Uint8Array, { end = false, timeoutMs = 10_000 } = {}): Promise<"closed" | "open"> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let settled = false;
    const finish = (how: "closed" | "open") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(how);
    };
    const timer = setTimeout(() => finish("open"), timeoutMs);
    socket.on("connect", () => {
      socket.write(bytes);
      if (end) socket.end();
    });
    socket.on("data", () => {});
    socket.on("error", () => finish("closed"));
    socket.on("close", () => finish("closed"));
  });
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A port nothing listens on: bound, then released. */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
